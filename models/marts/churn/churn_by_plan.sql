with subscribers as (

    select * from {{ ref('int_customer_subscription_status') }}

),

final as (

    select
        plan_level,
        plan_type,
        count(*)                                                    as customers,
        count(*) filter (where is_churned)                          as churned_customers,
        {{ safe_divide('count(*) filter (where is_churned)', 'count(*)') }} as churn_rate
    from subscribers
    group by plan_level, plan_type

)

select * from final
