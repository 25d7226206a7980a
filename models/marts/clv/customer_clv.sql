{#- Historical CLV, a weighted clv_score and percentile segments, one row per
    scored customer. The value comes from the resolved var clv_source (see
    int_customer_value_features): subscription revenue billed (bill x months),
    net transaction spend, or both. Weights (clv_weights() in
    macros/clv_settings.sql), cut-offs and labels are settings. -#}
{%- set rules = setting('clv_segments') -%}
{{ check_clv_features(ref('int_customer_value_features')) }}

with features as (

    select * from {{ ref('int_customer_value_features') }}
    where has_value_history
    {%- if setting('clv_population') == 'active' %}
      and is_active_customer
    {%- endif %}

),

scored as (

    select
        customer_id,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        historical_value as clv,
        -- exact decimal arithmetic (weights are rendered as decimal literals);
        -- a missing feature value counts as 0
        {{ clv_score_sql('clv_source') }} as clv_score,
        clv_source,
        total_spend,
        subscription_revenue,
        orders,
        is_active_customer
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
        scored.customer_id,
        scored.plan_level,
        scored.plan_type,
        scored.monthly_amount,
        scored.tenure_months,
        scored.clv,
        scored.clv_score,
        case
            {%- for rule in rules %}
            when scored.clv_score {{ rule.get('op', '>=') }} cutoffs.cutoff_{{ loop.index }} then {{ sql_literal(rule.label) }}
            {%- endfor %}
            else {{ sql_literal(setting('clv_segment_floor_label')) }}
        end as clv_segment,
        case
            {%- for rule in rules %}
            when scored.clv_score {{ rule.get('op', '>=') }} cutoffs.cutoff_{{ loop.index }} then {{ loop.index }}
            {%- endfor %}
            else {{ rules | length + 1 }}
        end as clv_segment_rank,
        scored.clv_source,
        scored.total_spend,
        scored.subscription_revenue,
        scored.orders,
        scored.is_active_customer
    from scored
    cross join cutoffs

)

select * from final
