{#- One row per subscribed customer: the plan of their latest subscription period,
    whether they have churned, and their tenure. Datasets with a single period per
    customer (nexa_sat) pass straight through. -#}

with periods as (

    select * from {{ ref('int_subscriptions') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by started_at desc nulls last, subscription_id desc
        ) as recency_rank,
        count(*) over (partition by customer_id) as periods
    from periods

),

tenure as (

    select
        customer_id,
        -- months subscribed: the dataset's own figure when it has one, else whole
        -- months between each period's start and its end (or the as-of date)
        coalesce(
            sum(tenure_months),
            sum({{ dbt.datediff('started_at', 'coalesce(ended_at, ' ~ as_of_date() ~ ')', 'month') }})
        ) as tenure_months,
        min(started_at) as first_started_at
    from periods
    group by customer_id

),

final as (

    select
        latest.customer_id,
        latest.plan_level,
        latest.plan_type,
        latest.monthly_amount,
        tenure.tenure_months,
        tenure.first_started_at,
        latest.periods,
        coalesce(latest.is_churned, latest.ended_at is not null and coalesce(latest.end_reason, 'cancel') = 'cancel')
            as is_churned
    from ranked as latest
    inner join tenure using (customer_id)
    where latest.recency_rank = 1

)

select * from final
