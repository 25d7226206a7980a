with subscribers as (

    select * from {{ ref('int_customer_subscription_status') }}

),

final as (

    select
        plan_level,
        count(*)                                    as customers,
        count(*) filter (where not is_churned)      as active_customers,
        sum(monthly_amount)                         as monthly_recurring_revenue,
        avg(tenure_months)                          as avg_tenure_months
    from subscribers
    group by plan_level

)

select * from final
