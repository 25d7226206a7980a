{#- Candidate features for the weighted clv_score, one row per customer. Any
    numeric column here can be named in var('clv_score_weights'). -#}

with customers as (

    select * from {{ ref('int_customers') }}

),

subscription as (

    select * from {{ ref('int_customer_subscription_status') }}

),

final as (

    select
        customers.customer_id,
        subscription.plan_level,
        subscription.plan_type,
        subscription.monthly_amount,
        subscription.tenure_months,
        customers.call_duration,
        customers.data_usage,
        cast(subscription.plan_level = '{{ var("premium_plan_level") }}' as integer) as is_premium,
        coalesce(subscription.is_churned, false)                                   as is_churned,
        subscription.customer_id is not null                                        as has_subscription
    from customers
    left join subscription using (customer_id)

)

select * from final
