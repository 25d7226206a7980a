{#- Churn by segment: one row per dimension and value, over every customer with
    a value history (a subscription and/or a purchase, per the resolved
    clv_source). Churned = lapsed (no active subscription, no purchase in the
    last var churn_inactivity_days days; on the telecom data: churned).
    Dimensions: clv_segment, plan_level (latest plan; '(no subscription)') and
    the customer attributes of var profile_dimensions. clv_segment is assigned to
    every customer, churned ones included, by comparing their clv_score with the
    cut-offs of the scored population (clv_segment_cutoffs), so it equals
    customer_clv's segment for the customers scored there. One GROUPING SETS pass;
    a dimension the dataset never fills is left out. -#}
{%- set rules = setting('clv_segments') -%}
{%- set dims = profile_dimensions() -%}

with features as (

    select * from {{ ref('int_customer_value_features') }}
    where has_value_history

),

customers as (

    select * from {{ ref('int_customers') }}

),

cutoffs as (

    select
        {%- for rule in rules %}
        max(case when clv_segment_rank = {{ loop.index }} then clv_score_cutoff end) as cutoff_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('clv_segment_cutoffs') }}

),

scored as (

    select
        customer_id,
        plan_level,
        historical_value,
        is_lapsed,
        {{ clv_score_sql('clv_source') }} as clv_score
    from features

),

segmented as (

    select
        scored.*,
        case
            {%- for rule in rules %}
            when scored.clv_score {{ rule.get('op', '>=') }} cutoffs.cutoff_{{ loop.index }} then {{ sql_literal(rule.label) }}
            {%- endfor %}
            else {{ sql_literal(setting('clv_segment_floor_label')) }}
        end as clv_segment
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
        count(*) filter (where is_lapsed)                            as churned_customers,
        {{ safe_divide('count(*) filter (where is_lapsed)', 'count(*)') }} as churn_rate,
        sum(historical_value)                                        as revenue,
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
        churned_customers,
        churn_rate,
        revenue,
        avg_historical_value
    from filled
    where filled_values > 0
      and (dimension_name <> 'plan_level' or subscribed_values > 0)

)

select * from final
