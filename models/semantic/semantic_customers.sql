{#- One row per customer known at the as-of date (the population of
    int_customer_value_features): the dimensions the metrics are sliced by and the
    per-customer figures of the marts that define them, joined, never recomputed.
      - active / lapsed: int_customer_value_features (is_active_at_as_of, macros/active.sql)
      - historical value: int_customer_value_features.historical_value (all customers);
        clv and clv_segment: customer_clv (the scored population)
      - rfm_segment: customer_rfm; predicted_clv: customer_clv_forecast;
        churn_probability: customer_churn_risk
      - is_churned (subscription relationship ended) for subscribers:
        int_customer_subscription_status, the rows churn_by_plan counts
    as_of_date is the metric time of every customer metric (a stock at the as-of
    date); signed_up_at gives the sign-up cohort month. -#}

with features as (

    select * from {{ ref('int_customer_value_features') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

clv as (

    select * from {{ ref('customer_clv') }}

),

forecast as (

    select * from {{ ref('customer_clv_forecast') }}

),

churn_risk as (

    select * from {{ ref('customer_churn_risk') }}

),

subscribers as (

    select * from {{ ref('int_customer_subscription_status') }}

),

final as (

    select
        features.customer_id,
        cast({{ as_of_date() }} as date)                              as as_of_date,
        customers.signed_up_at,
        customers.country,
        customers.region,
        customers.age_group,
        customers.gender,
        customers.referral_channel,
        features.plan_level,
        rfm.rfm_segment,
        clv.clv_segment,
        features.is_active_customer,
        features.is_lapsed,
        features.has_value_history,
        features.historical_value,
        clv.customer_id is not null                                   as is_clv_scored,
        clv.clv,
        forecast.predicted_clv,
        churn_risk.churn_probability,
        subscribers.customer_id is not null                           as is_subscriber,
        subscribers.is_churned
    from features
    left join customers on features.customer_id = customers.customer_id
    left join rfm on features.customer_id = rfm.customer_id
    left join clv on features.customer_id = clv.customer_id
    left join forecast on features.customer_id = forecast.customer_id
    left join churn_risk on features.customer_id = churn_risk.customer_id
    left join subscribers on features.customer_id = subscribers.customer_id

)

select * from final
