{#- Contractual CLV per customer with a subscription open at the as-of date: the
    sum over their open periods (one in practice) of subscription_residual_value's
    contractual_clv (payment per period x DERL) and DERL, with the customer's CLV
    segment (customer_clv) for the per-segment view (contractual_clv_segments). -#}

with residual as (

    select * from {{ ref('subscription_residual_value') }}

),

clv as (

    select
        customer_id,
        clv_segment
    from {{ ref('customer_clv') }}

),

per_customer as (

    select
        customer_id,
        count(*)                                                        as open_subscriptions,
        min(plan_level)                                                 as plan_level,
        count(distinct plan_level)                                      as plan_levels,
        cast(sum(cast(contractual_clv as decimal(18, 2))) as decimal(18, 2)) as contractual_clv,
        round(sum({{ exact_value('derl') }}), 6)                    as derl,
        min(retention_probability_next)                                 as retention_probability_next,
        min(period)                                                     as period
    from residual
    group by customer_id

),

final as (

    select
        per_customer.customer_id,
        per_customer.open_subscriptions,
        per_customer.plan_level,
        per_customer.plan_levels,
        per_customer.contractual_clv,
        cast(per_customer.derl as double)                               as derl,
        per_customer.retention_probability_next,
        per_customer.period,
        clv.clv_segment
    from per_customer
    left join clv using (customer_id)

)

select * from final
