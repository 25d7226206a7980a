{#- Subscription periods summarised along several dimensions at once (the LITA
    study's revenue by region, by plan and by quarter of start; active vs
    cancelled; average duration; cancellations by region). One row per
    dimension value; dimension 'all' is the total. Status: 'cancelled' (ended
    with a cancellation), 'active' (open at the as-of date: is_open_at_as_of,
    so a period ended during the as-of day is not active), else 'ended'. -#}
{%- set dimensions = {
    'all': "'all'",
    'region': "coalesce(customers.region, '(unknown)')",
    'plan_level': "coalesce(periods.plan_level, '(unknown)')",
    'start_quarter': "strftime(periods.started_at, '%Y') || '-Q' || cast(quarter(periods.started_at) as varchar)",
    'status': "case when periods.is_churned then 'cancelled' when " ~ is_open_at_as_of('periods', 'as_of.as_of_end') ~ " then 'active' else 'ended' end"
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
        -- revenue of the period: what the data says was billed, else the monthly
        -- amount times the months the period ran (to its end or the as-of date)
        coalesce(
            periods.billed_amount,
            periods.monthly_amount * greatest(0, {{ dbt.datediff('periods.started_at', 'least(coalesce(periods.ended_at, ' ~ as_of_date() ~ '), ' ~ as_of_date() ~ ')', 'month') }})
        ) as period_revenue,
        {{ dbt.datediff('periods.started_at', 'coalesce(periods.ended_at, ' ~ as_of_date() ~ ')', 'day') }} as duration_days
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
        sum(period_revenue)                                             as revenue,
        count(*) filter (where is_churned)                              as cancelled_subscriptions,
        count(*) filter (where not coalesce(is_churned, false))         as not_cancelled_subscriptions,
        {{ safe_divide('count(*) filter (where is_churned)', 'count(*)') }} as cancellation_rate,
        avg(duration_days)                                              as avg_duration_days
    from enriched
    group by dim_{{ name }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (

    select
        *,
        {{ safe_divide('revenue', 'sum(revenue) over (partition by dimension_name)') }} as revenue_share
    from summarised

)

select * from final
