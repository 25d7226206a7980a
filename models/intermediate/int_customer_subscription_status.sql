{#- One row per customer subscribed by the as-of date: the plan of their latest
    subscription period started by then, whether they have churned by then, whether
    that period is open at the as-of date, and their tenure. Periods starting after
    the as-of date are not known yet and do not count; an end after the as-of date
    is not known yet either (the period is open). Datasets with a single period per
    customer (nexa_sat) pass straight through. -#}

with as_of as (

    {{ as_of_bounds() }}

),

periods as (

    select
        periods.*,
        {{ is_open_at_as_of('periods', '(select as_of_end from as_of)') }} as is_open
    from {{ ref('int_subscriptions') }} as periods
    where {{ is_started_by_as_of('periods', '(select as_of_end from as_of)') }}

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
        periods.customer_id,
        -- months subscribed: the dataset's own figure when it has one, else whole
        -- months between each period's start and its end (or the as-of date)
        coalesce(
            sum(periods.tenure_months),
            sum({{ dbt.datediff('periods.started_at', 'least(coalesce(periods.ended_at, as_of.as_of_at), as_of.as_of_at)', 'month') }})
        ) as tenure_months,
        min(periods.started_at) as first_started_at
    from periods
    cross join as_of
    group by periods.customer_id

),

latest as (

    select
        ranked.*,
        -- churned: the latest period ended with a cancellation by the as-of date
        -- (the dataset's flag when it has one); an end after the as-of date is
        -- not known yet, so such a period is open and not churned
        case
            when ranked.is_open and ranked.ended_at is not null then false
            else coalesce(ranked.is_churned, ranked.ended_at is not null and coalesce(ranked.end_reason, 'cancel') = 'cancel')
        end as is_churned_at_as_of
    from ranked
    where ranked.recency_rank = 1

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
        latest.is_churned_at_as_of                              as is_churned,
        latest.is_open and not latest.is_churned_at_as_of       as has_active_subscription
    from latest
    inner join tenure using (customer_id)

)

select * from final
