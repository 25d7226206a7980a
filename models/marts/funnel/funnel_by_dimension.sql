{#- The funnel split by each customer attribute in var('funnel_dimensions')
    (columns of int_customers; default country and referral_channel): one row
    per dimension, value and step. A missing value is reported as '(unknown)'.
    Every step is listed for every value (0 users when nobody reached it).
    Conversion over the mature entrants, as funnel_steps.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set steps = setting('funnel_steps') -%}
{%- set dims = setting('funnel_dimensions') or [] -%}

{%- if execute -%}
  {%- set available = adapter.get_columns_in_relation(ref('int_customers')) | map(attribute='name') | map('lower') | list -%}
  {%- for dim in dims -%}
    {%- if available and (dim | lower) not in available -%}
      {{ settings_error('funnel_dimensions', "'" ~ dim ~ "' is not a column of int_customers",
          "use one of " ~ (available | reject('equalto', 'customer_id') | join(', '))) }}
    {%- endif -%}
  {%- endfor -%}
{%- endif %}

with customer_funnel as (

    select * from {{ ref('customer_funnel') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

{%- if dims | length > 0 %}

entrants as (

    select
        customer_funnel.furthest_step,
        customer_funnel.is_mature,
        {%- for dim in dims %}
        coalesce(cast(customers.{{ dim }} as {{ dbt.type_string() }}), '(unknown)') as dim_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_funnel
    left join customers
        on customers.customer_id = customer_funnel.customer_id

),

furthest_counts as (
    {%- for dim in dims %}

    select
        {{ sql_literal(dim) }} as dimension_name,
        dim_{{ loop.index }} as dimension_value,
        furthest_step,
        count(*) filter (where is_mature) as users,
        count(*) filter (where not is_mature) as not_yet_mature_users
    from entrants
    group by dim_{{ loop.index }}, furthest_step
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

conversion as (

    {{ funnel_conversion('furthest_counts', steps, ['dimension_name', 'dimension_value']) }}

),
{%- else %}

-- var('funnel_dimensions') is empty: no split, an empty typed table
conversion as (

    select
        cast(null as {{ dbt.type_string() }}) as dimension_name,
        cast(null as {{ dbt.type_string() }}) as dimension_value,
        cast(null as integer) as step_number,
        cast(null as {{ dbt.type_string() }}) as event_name,
        cast(null as bigint) as users,
        cast(null as bigint) as dropped_users,
        cast(null as double) as conversion_from_previous,
        cast(null as double) as conversion_from_start,
        cast(null as bigint) as not_yet_mature_users
    where false

),
{%- endif %}

final as (

    select
        dimension_name,
        dimension_value,
        step_number,
        event_name,
        users,
        dropped_users,
        conversion_from_previous,
        conversion_from_start,
        not_yet_mature_users
    from conversion

)

select * from final
