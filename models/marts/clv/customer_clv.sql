{#- Historical CLV, a weighted clv_score and percentile segments, one row per
    scored customer. Weights, cut-offs and labels are vars (dbt_project.yml). -#}
{%- set weights = var('clv_score_weights') -%}
{%- set scale = var('clv_score_scale') -%}
{%- set rules = var('clv_segments') -%}

{%- if execute -%}
  {%- set available = adapter.get_columns_in_relation(ref('int_customer_value_features')) | map(attribute='name') | map('lower') | list -%}
  {%- for feature in weights -%}
    {%- if feature not in available -%}
      {{ settings_error('clv_score_weights', "feature '" ~ feature ~ "' is not a column of int_customer_value_features",
          "use one of " ~ (available | reject('in', ['customer_id', 'plan_level', 'plan_type']) | join(', '))) }}
    {%- endif -%}
  {%- endfor -%}
{%- endif %}

with features as (

    select * from {{ ref('int_customer_value_features') }}
    where has_subscription
    {%- if var('clv_population') == 'active' %}
      and not is_churned
    {%- endif %}

),

scored as (

    select
        customer_id,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        monthly_amount * tenure_months as clv,
        -- exact decimal arithmetic (weights are rendered as decimal literals);
        -- a missing feature value counts as 0
        cast(round(
            {%- for feature, weight in weights.items() %}
            {{ weight }} * coalesce({{ feature }}, 0){{ ' +' if not loop.last }}
            {%- endfor %}
        , {{ scale }}) as decimal(18, {{ scale }})) as clv_score
    from features

),

cutoffs as (

    select
        {%- for rule in rules %}
        {{ percentile_cont('clv_score', rule.percentile) }} as cutoff_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from scored

),

final as (

    select
        scored.*,
        case
            {%- for rule in rules %}
            when scored.clv_score {{ rule.get('op', '>=') }} cutoffs.cutoff_{{ loop.index }} then {{ sql_literal(rule.label) }}
            {%- endfor %}
            else {{ sql_literal(var('clv_segment_floor_label')) }}
        end as clv_segment,
        case
            {%- for rule in rules %}
            when scored.clv_score {{ rule.get('op', '>=') }} cutoffs.cutoff_{{ loop.index }} then {{ loop.index }}
            {%- endfor %}
            else {{ rules | length + 1 }}
        end as clv_segment_rank
    from scored
    cross join cutoffs

)

select * from final
