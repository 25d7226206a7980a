{#- One row per customer per campaign. Each campaign is a SQL predicate in
    var('campaigns') over the columns of customer_clv and int_customers. -#}
{%- set campaigns = setting('campaigns') -%}

with targetable as (

    select
        clv.*,
        customers.* exclude (customer_id)
    from {{ ref('customer_clv') }} as clv
    left join {{ ref('int_customers') }} as customers using (customer_id)

),

targets as (
    {%- for name, predicate in campaigns.items() %}
    select
        {{ sql_literal(name) }} as campaign,
        customer_id
    from targetable
    where coalesce(({{ predicate }}), false)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if campaigns | length == 0 %}
    select cast(null as varchar) as campaign, cast(null as varchar) as customer_id where false
    {%- endif %}
),

final as (

    select distinct
        campaign,
        customer_id
    from targets

)

select * from final
