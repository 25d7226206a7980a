{#- Subscription tier movements by month: one row per month, movement type and
    plan change (from_plan_level -> to_plan_level), with movements, customers and
    MRR before / after. From the periods of int_subscriptions, up to the as-of date:
      new           the customer's first period starts
      upgrade       a period starts after one that ended with end_reason 'upgrade'
      downgrade     a period starts after one that ended with end_reason 'downgrade'
      reactivation  a period starts after one that ended otherwise (a cancel)
      churn         a period ends with a cancel (or any reason other than
                    upgrade/downgrade, or with no following period)
      retained      in force at the end of the previous month (started before the
                    month began, not ended before it) and no movement in the month
    mrr_before / mrr_after: monthly_amount before and after the movement (0 when
    there is no plan on that side); mrr_change = mrr_after - mrr_before. -#}

with {{ subscription_periods_ctes() }},

ordered as (

    select
        {{ subscription_period_columns('periods') }},
        -- an end after the as-of date has not happened yet
        case when {{ happened_by_as_of('periods.ended_at', 'as_of.as_of_end') }} then periods.ended_at end as ended_at,
        case when {{ happened_by_as_of('periods.ended_at', 'as_of.as_of_end') }} then periods.end_reason end as end_reason,
        row_number() over customer_periods                           as period_number,
        lag(periods.plan_level) over customer_periods                as previous_plan_level,
        lag(periods.monthly_amount) over customer_periods            as previous_monthly_amount,
        lag(periods.end_reason) over customer_periods                as previous_end_reason,
        lead(periods.started_at) over customer_periods               as next_started_at
    from periods
    cross join as_of
    where {{ happened_by_as_of('periods.started_at', 'as_of.as_of_end') }}
    window customer_periods as ({{ customer_period_order('periods') }})

),

starts as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'started_at') }} as date)    as movement_month,
        case
            when period_number = 1 then 'new'
            when previous_end_reason = 'upgrade' then 'upgrade'
            when previous_end_reason = 'downgrade' then 'downgrade'
            else 'reactivation'
        end                                                          as movement_type,
        case when previous_end_reason in ('upgrade', 'downgrade') then previous_plan_level end as from_plan_level,
        plan_level                                                   as to_plan_level,
        case when previous_end_reason in ('upgrade', 'downgrade') then previous_monthly_amount else 0 end as mrr_before,
        monthly_amount                                               as mrr_after
    from ordered

),

ends as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'ended_at') }} as date)      as movement_month,
        'churn'                                                      as movement_type,
        plan_level                                                   as from_plan_level,
        cast(null as varchar)                                        as to_plan_level,
        monthly_amount                                               as mrr_before,
        0                                                            as mrr_after
    from ordered
    where
        ended_at is not null
        and (coalesce(end_reason, 'cancel') not in ('upgrade', 'downgrade') or next_started_at is null)

),

movements as (

    select * from starts
    union all
    select * from ends

),

-- the months whose first instant a period spans, i.e. it is in force at the
-- end of the previous month: started before the month begins and not ended
-- before it (open periods: up to the as-of month). A period starting exactly at
-- midnight on the 1st is a movement of that month, not in force before it.
in_force_bounds as (

    select
        ordered.customer_id,
        ordered.plan_level,
        ordered.monthly_amount,
        cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', 'ordered.started_at')) }} as date) as first_month,
        cast(coalesce({{ dbt.date_trunc('month', 'ordered.ended_at') }}, as_of.as_of_month) as date) as last_month
    from ordered
    cross join as_of

),

in_force as (

    select
        customer_id,
        plan_level,
        monthly_amount,
        cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as movement_month
    from in_force_bounds
    where first_month <= last_month

),

moved_customer_months as (

    select distinct
        customer_id,
        movement_month
    from movements

),

retained as (

    select
        in_force.customer_id,
        in_force.movement_month,
        'retained'                                                   as movement_type,
        in_force.plan_level                                          as from_plan_level,
        in_force.plan_level                                          as to_plan_level,
        in_force.monthly_amount                                      as mrr_before,
        in_force.monthly_amount                                      as mrr_after
    from in_force
    left join moved_customer_months
        on
            moved_customer_months.customer_id = in_force.customer_id
            and moved_customer_months.movement_month = in_force.movement_month
    where moved_customer_months.customer_id is null

),

all_movements as (

    select * from movements
    union all
    select * from retained

),

final as (

    select
        movement_month,
        movement_type,
        from_plan_level,
        to_plan_level,
        count(*)                                                     as movements,
        count(distinct customer_id)                                  as customers,
        sum(mrr_before)                                              as mrr_before,
        sum(mrr_after)                                               as mrr_after,
        sum(mrr_after) - sum(mrr_before)                             as mrr_change
    from all_movements
    group by 1, 2, 3, 4

)

select * from final
