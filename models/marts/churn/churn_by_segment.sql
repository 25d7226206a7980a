{#- Lapsed customers by segment: one row per dimension and value, over every
    customer with a value history (a subscription and/or a purchase, per the
    resolved clv_source). Lapsed (int_customer_value_features.is_lapsed) = has a
    value history and is not active at the as-of date (is_active_at_as_of in
    macros/active.sql: no subscription open at the as-of date and no purchase on
    the var churn_inactivity_days days ending with the as-of day; on the telecom
    data: churned). lapsed_share = lapsed_customers / customers, the share lapsed
    at the as-of date (a stock, not a rate per period).
    Dimensions: clv_segment, plan_level (latest plan; '(no subscription)') and
    the customer attributes of var profile_dimensions. clv_segment is assigned to
    every customer, lapsed ones included: their clv_score (customer_clv_score)
    against the cut-offs of the scored population (clv_segment_cutoffs), by the
    one rule clv_segment_case(), so it equals customer_clv's segment for the
    customers scored there. One GROUPING SETS pass; a dimension the dataset
    never fills is left out.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops
    and the duckdb dialect does not parse `group by grouping sets`:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-- sqlfluff:ignore:parsing
-#}
{%- set dims = profile_dimensions() -%}

with scored as (

    select * from {{ ref('customer_clv_score') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

cutoffs as (

    {{ clv_segment_cutoff_row(ref('clv_segment_cutoffs')) }}

),

segmented as (

    select
        scored.customer_id,
        scored.plan_level,
        scored.clv as historical_value,
        scored.is_lapsed,
        {{ clv_segment_case('scored.clv_score', 'cutoffs', 'label') }} as clv_segment
    from scored
    cross join cutoffs

),

joined as (

    select
        segmented.clv_segment                                        as dim_clv_segment,
        coalesce(segmented.plan_level, '(no subscription)')          as dim_plan_level,
        {%- for dim in dims %}
        cast(customers.{{ dim }} as varchar)                         as dim_{{ dim }},
        {%- endfor %}
        segmented.historical_value,
        segmented.is_lapsed
    from segmented
    inner join customers on customers.customer_id = segmented.customer_id

),

grouped as (

    select
        case
            when grouping(dim_clv_segment) = 0 then 'clv_segment'
            when grouping(dim_plan_level) = 0 then 'plan_level'
            {%- for dim in dims %}
            when grouping(dim_{{ dim }}) = 0 then '{{ dim }}'
            {%- endfor %}
        end                                                          as dimension_name,
        case
            when grouping(dim_clv_segment) = 0 then dim_clv_segment
            when grouping(dim_plan_level) = 0 then dim_plan_level
            {%- for dim in dims %}
            when grouping(dim_{{ dim }}) = 0 then dim_{{ dim }}
            {%- endfor %}
        end                                                          as raw_value,
        count(*)                                                     as customers,
        count(*) filter (where not is_lapsed)                        as active_customers,
        count(*) filter (where is_lapsed)                            as lapsed_customers,
        {{ safe_divide('count(*) filter (where is_lapsed)', 'count(*)') }} as lapsed_share,
        sum(historical_value)                                        as historical_value,
        avg(historical_value)                                        as avg_historical_value
    from joined
    group by grouping sets (
        (dim_clv_segment),
        (dim_plan_level)
        {%- for dim in dims %},
        (dim_{{ dim }})
        {%- endfor %}
    )

),

filled as (

    select
        *,
        count(raw_value) over (partition by dimension_name)          as filled_values,
        -- plan_level is always filled ('(no subscription)'): keep it only
        -- when someone subscribed
        count(case when dimension_name = 'plan_level' and raw_value <> '(no subscription)' then 1 end)
            over (partition by dimension_name)                       as subscribed_values
    from grouped

),

final as (

    select
        dimension_name,
        coalesce(raw_value, '(missing)')                             as dimension_value,
        customers,
        active_customers,
        lapsed_customers,
        lapsed_share,
        historical_value,
        avg_historical_value
    from filled
    where filled_values > 0
      and (dimension_name <> 'plan_level' or subscribed_values > 0)

)

select * from final
