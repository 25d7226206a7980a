{#- Demographic segment profiles: one row per customer attribute
    (var profile_dimensions: occupation, age_group, referral_channel, country,
    region by default) and value, with size, buyers, historical value, spend, churn and
    engagement. One GROUPING SETS pass over all customers. An attribute the
    dataset never fills is left out; a missing value is '(missing)'.
    Deterministic: every sum and average is over exact values (integers,
    decimals; watch_minutes rounded to decimal(38, 6)), so two builds of the
    same input give the same bytes whatever the threads.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops
    and the duckdb dialect does not parse `group by grouping sets`:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-- sqlfluff:ignore:parsing
-#}
{%- set dims = profile_dimensions() %}

with customers as (

    select * from {{ ref('int_customers') }}

),

features as (

    select * from {{ ref('int_customer_value_features') }}

),

{%- if dims | length == 0 %}

final as (

    select
        cast(null as varchar) as dimension_name, cast(null as varchar) as dimension_value,
        cast(null as bigint) as customers, cast(null as double) as share_of_customers,
        cast(null as bigint) as buyers, cast(null as bigint) as subscribers,
        cast(null as decimal(38, 2)) as historical_value, cast(null as decimal(38, 2)) as transaction_revenue,
        cast(null as double) as avg_spend, cast(null as double) as historical_value_per_customer,
        cast(null as bigint) as customers_with_history, cast(null as bigint) as lapsed_customers,
        cast(null as double) as lapsed_share, cast(null as double) as avg_watch_minutes,
        cast(null as double) as completion_rate
    where false

)

{%- else %}

joined as (

    select
        {%- for dim in dims %}
        cast(customers.{{ dim }} as varchar) as dim_{{ dim }},
        {%- endfor %}
        features.*
    from customers
    inner join features on features.customer_id = customers.customer_id

),

grouped as (

    select
        case
            {%- for dim in dims %}
            when grouping(dim_{{ dim }}) = 0 then '{{ dim }}'
            {%- endfor %}
        end                                                                as dimension_name,
        case
            {%- for dim in dims %}
            when grouping(dim_{{ dim }}) = 0 then dim_{{ dim }}
            {%- endfor %}
        end                                                                as raw_value,
        count(*)                                                           as customers,
        count(*) filter (where orders > 0)                                 as buyers,
        count(*) filter (where has_subscription)                           as subscribers,
        sum(historical_value)                                              as historical_value,
        sum(total_spend)                                                   as transaction_revenue,
        {{ safe_divide('sum(total_spend)', 'count(*) filter (where orders > 0)') }} as avg_spend,
        {{ safe_divide('sum(historical_value)', 'count(*)') }}             as historical_value_per_customer,
        count(*) filter (where has_value_history)                          as customers_with_history,
        count(*) filter (where is_lapsed)                                  as lapsed_customers,
        {{ safe_divide('count(*) filter (where is_lapsed)', 'count(*) filter (where has_value_history)') }} as lapsed_share,
        -- a sum of doubles depends on the order the threads add them: average
        -- watch_minutes as a decimal with 6 places (exact sum), then cast
        cast(avg(cast(watch_minutes as decimal(38, 6))) as double)         as avg_watch_minutes,
        {{ safe_divide('sum(courses_completed)', 'sum(courses_enrolled)') }} as completion_rate
    from joined
    group by grouping sets (
        {%- for dim in dims %}
        (dim_{{ dim }}){{ ',' if not loop.last }}
        {%- endfor %}
    )

),

filled as (

    select
        *,
        count(raw_value) over (partition by dimension_name)                as filled_values,
        sum(customers) over (partition by dimension_name)                  as dimension_customers
    from grouped

),

final as (

    select
        dimension_name,
        coalesce(raw_value, '(missing)')                                   as dimension_value,
        customers,
        {{ safe_divide('customers', 'dimension_customers') }}              as share_of_customers,
        buyers,
        subscribers,
        historical_value,
        transaction_revenue,
        avg_spend,
        historical_value_per_customer,
        customers_with_history,
        lapsed_customers,
        lapsed_share,
        avg_watch_minutes,
        completion_rate
    from filled
    where filled_values > 0

)

{%- endif %}

select * from final
