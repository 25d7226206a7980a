{#- The subscription-tier study's fuller questions on data with tier history:
    segments within each tier (current plan x RFM segment) with their size,
    historical CLV, predicted CLV, churn risk and tier-change propensity. -#}

with subscribers as (

    select
        customer_id,
        plan_level,
        is_churned
    from {{ ref('int_customer_subscription_status') }}

),

rfm as (

    select
        customer_id,
        rfm_segment
    from {{ ref('customer_rfm') }}

),

value as (

    select
        customer_id,
        historical_value
    from {{ ref('customer_features') }}

),

forecast as (

    select
        customer_id,
        predicted_clv,
        probability_alive
    from {{ ref('customer_clv_forecast') }}

),

risk as (

    select
        customer_id,
        churn_probability
    from {{ ref('customer_churn_risk') }}

),

tier_change as (

    select
        customer_id,
        p_upgrade,
        p_downgrade
    from {{ ref('customer_tier_change_risk') }}

),

-- averages and sums over floats are taken in exact decimals (38 digits, 18
-- after the point) so they do not depend on the order DuckDB's parallel
-- aggregation meets the rows: the same input gives the same bytes
final as (

    select
        subscribers.plan_level,
        coalesce(rfm.rfm_segment, 'No Purchases')          as rfm_segment,
        count(*)                                            as customers,
        {{ safe_divide('count(*)', 'sum(count(*)) over (partition by subscribers.plan_level)') }} as share_of_tier,
        avg(cast(subscribers.is_churned as integer))        as churned_share,
        avg(cast(value.historical_value as decimal(38, 18)))  as avg_historical_clv,
        sum(cast(value.historical_value as decimal(18, 2))) as historical_clv,
        avg(cast(forecast.predicted_clv as decimal(38, 18)))  as avg_predicted_clv,
        avg(cast(forecast.probability_alive as decimal(38, 18))) as avg_probability_alive,
        avg(cast(risk.churn_probability as decimal(38, 18)))  as avg_churn_probability,
        avg(cast(tier_change.p_upgrade as decimal(38, 18)))   as avg_p_upgrade,
        avg(cast(tier_change.p_downgrade as decimal(38, 18))) as avg_p_downgrade
    from subscribers
    left join rfm using (customer_id)
    left join value using (customer_id)
    left join forecast using (customer_id)
    left join risk using (customer_id)
    left join tier_change using (customer_id)
    group by subscribers.plan_level, coalesce(rfm.rfm_segment, 'No Purchases')

)

select * from final
