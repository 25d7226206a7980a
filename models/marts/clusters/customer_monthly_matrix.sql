{#- One row per customer: activity (sum of event values, e.g. videos published),
    revenue, and revenue per unit of activity in each of the last N months up to
    the as-of month (m01 = oldest, mNN = the as-of month), plus totals and the
    study recency. The creator study's clustering features. Only what is known
    at the as-of date counts: the customers signed up by then
    (is_signed_up_by_as_of) and their rows up to the end of the as-of day
    (is_on_or_before_as_of; the as-of month runs to the as-of day, not to the
    month's end). Rows before the window are not read (the
    bound is pushed into the scan; they added nothing).
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set n = setting('monthly_matrix_months') | int -%}
{%- set activity_events = setting('monthly_matrix_activity_events') -%}

with customers as (

    -- the customers known at the as-of date (a later sign-up is not known yet)
    select customers.customer_id
    from {{ ref('int_customers') }} as customers
    where {{ is_signed_up_by_as_of('customers', as_of_end(as_of_date())) }}

),

bounds as (

    select
        cast(date_trunc('month', {{ as_of_date() }}) as date)                      as as_of_month,
        -- the first instant of the window's oldest month
        cast(cast(date_trunc('month', {{ as_of_date() }}) as date) - interval ({{ n - 1 }}) month as timestamp) as window_start

),

events as (

    select
        events.customer_id,
        {{ dbt.datediff('cast(date_trunc(\'month\', events.event_at) as date)', 'bounds.as_of_month', 'month') }} as months_back,
        coalesce({{ exact_value('events.value') }}, 1) as activity
    from {{ ref('int_events') }} as events
    cross join bounds
    where events.event_at >= bounds.window_start
      and {{ is_on_or_before_as_of('events.event_at') }}
    {%- if activity_events %}
      and events.event_name in ({% for e in activity_events %}{{ sql_literal(e) }}{{ ', ' if not loop.last }}{% endfor %})
    {%- endif %}

),

revenue as (

    select
        transactions.customer_id,
        {{ dbt.datediff('cast(date_trunc(\'month\', transactions.transacted_at) as date)', 'bounds.as_of_month', 'month') }} as months_back,
        transactions.amount
    from {{ ref('int_transactions') }} as transactions
    cross join bounds
    where transactions.transacted_at >= bounds.window_start
      and {{ is_on_or_before_as_of('transactions.transacted_at') }}

),

activity_by_month as (

    select
        customer_id,
        {%- for i in range(1, n + 1) %}
        cast(coalesce(sum(activity) filter (where months_back = {{ n - i }}), 0) as double) as activity_m{{ '%02d' % i }},
        {%- endfor %}
        max({{ n }} - months_back) filter (where months_back between 0 and {{ n - 1 }} and activity > 0) as last_active_month_number,
        min({{ n }} - months_back) filter (where months_back between 0 and {{ n - 1 }} and activity > 0) as first_active_month_number
    from events
    group by customer_id

),

revenue_by_month as (

    select
        customer_id,
        {%- for i in range(1, n + 1) %}
        coalesce(sum(amount) filter (where months_back = {{ n - i }}), 0) as revenue_m{{ '%02d' % i }}{{ ',' if not loop.last }}
        {%- endfor %}
    from revenue
    group by customer_id

),

final as (

    select
        customers.customer_id,
        {%- for i in range(1, n + 1) %}
        coalesce(a.activity_m{{ '%02d' % i }}, 0)                   as activity_m{{ '%02d' % i }},
        {%- endfor %}
        {%- for i in range(1, n + 1) %}
        cast(coalesce(r.revenue_m{{ '%02d' % i }}, 0) as double)    as revenue_m{{ '%02d' % i }},
        {%- endfor %}
        {%- for i in range(1, n + 1) %}
        -- revenue per unit of activity; 0 when there was no activity (0/0 = 0)
        coalesce({{ safe_divide('r.revenue_m' ~ ('%02d' % i), 'a.activity_m' ~ ('%02d' % i)) }}, 0) as revenue_per_activity_m{{ '%02d' % i }},
        {%- endfor %}
        (0 {% for i in range(1, n + 1) %} + coalesce(a.activity_m{{ '%02d' % i }}, 0){% endfor %})                   as total_activity,
        cast((0 {% for i in range(1, n + 1) %} + coalesce(r.revenue_m{{ '%02d' % i }}, 0){% endfor %}) as double)    as total_revenue,
        a.last_active_month_number,
        a.first_active_month_number,
        -- months from the last active month to the as-of month, counting both
        -- (the as-of month = 1); no activity in the window = {{ n }}
        {{ n }} + 1 - coalesce(a.last_active_month_number, 1)       as activity_recency_months
    from customers
    left join activity_by_month as a using (customer_id)
    left join revenue_by_month as r using (customer_id)

)

select * from final
