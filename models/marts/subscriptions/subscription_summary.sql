{#- Subscription periods summarised along several dimensions at once (the LITA
    study's revenue by region, by plan and by quarter of start; active vs
    cancelled; average duration; cancellations by region). One row per
    dimension value; dimension 'all' is the total. Only what is known at the
    as-of date counts: periods started by then, ends and cancellations by then.
    Status: 'cancelled' (ended with a cancellation by the as-of date:
    is_cancelled_by_as_of), 'active' (open at the as-of date: is_open_at_as_of,
    so a period ended during the as-of day is not active), else 'ended' (by an
    upgrade or downgrade). Revenue: the billing rule (macros/billing.sql). -#}
{%- set dimensions = {
    'all': "'all'",
    'region': "coalesce(customers.region, '(unknown)')",
    'plan_level': "coalesce(periods.plan_level, '(unknown)')",
    'start_quarter': "strftime(periods.started_at, '%Y') || '-Q' || cast(quarter(periods.started_at) as varchar)",
    'status': "case when " ~ is_cancelled_by_as_of('periods', 'as_of.as_of_end') ~ " then 'cancelled' when " ~ is_open_at_as_of('periods', 'as_of.as_of_end') ~ " then 'active' else 'ended' end"
} -%}

with as_of as (

    {{ as_of_bounds() }}

),

-- the periods started by the as-of date (later ones are not known yet)
periods as (

    select periods.*
    from {{ ref('int_subscriptions') }} as periods
    where {{ is_started_by_as_of('periods', '(select as_of_end from as_of)') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

enriched as (

    select
        periods.*,
        {%- for name, expression in dimensions.items() %}
        {{ expression }} as dim_{{ name }},
        {%- endfor %}
        -- revenue of the period up to the as-of date: the billing rule
        {{ billed_revenue('periods', 'as_of.as_of_end') }} as period_revenue,
        {{ is_cancelled_by_as_of('periods', 'as_of.as_of_end') }} as is_cancelled,
        {{ is_ended_by_as_of('periods', 'as_of.as_of_end') }} as is_ended,
        -- days from start to end, or to the as-of date while open (an end after
        -- the as-of date is not known yet)
        {{ dbt.datediff('periods.started_at', 'least(coalesce(periods.ended_at, as_of.as_of_at), as_of.as_of_at)', 'day') }} as duration_days
    from periods
    cross join as_of
    left join customers using (customer_id)

),

summarised as (
    {%- for name in dimensions %}
    select
        '{{ name }}'                                                    as dimension_name,
        dim_{{ name }}                                                  as dimension_value,
        count(*)                                                        as subscriptions,
        count(distinct customer_id)                                     as customers,
        sum(period_revenue)                                             as subscription_revenue,
        count(*) filter (where is_ended)                                as ended_subscriptions,
        {{ safe_divide('count(*) filter (where is_ended)', 'count(*)') }} as ended_share,
        count(*) filter (where is_cancelled)                            as cancelled_subscriptions,
        count(*) filter (where not is_cancelled)                        as not_cancelled_subscriptions,
        {{ safe_divide('count(*) filter (where is_cancelled)', 'count(*)') }} as cancellation_rate,
        count(distinct customer_id) filter (where is_cancelled)         as cancelled_customers,
        {{ safe_divide('count(distinct customer_id) filter (where is_cancelled)', 'count(distinct customer_id)') }} as customers_cancelled_share,
        avg(duration_days)                                              as avg_duration_days
    from enriched
    group by dim_{{ name }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (

    select
        *,
        {{ safe_divide('subscription_revenue', 'sum(subscription_revenue) over (partition by dimension_name)') }} as revenue_share
    from summarised

)

select * from final
