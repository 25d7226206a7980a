{#- The percentile cut-offs behind clv_segment, one row per rule: the one model
    computing them, over the scored population (customer_clv_score.is_scored).
    customer_clv and churn_by_segment read them through clv_segment_case()
    (macros/clv_settings.sql). -#}
{%- set rules = setting('clv_segments') -%}

with scored as (

    select * from {{ ref('customer_clv_score') }}
    where is_scored

),

final as (
    {%- for rule in rules %}
    select
        {{ loop.index }}                                   as clv_segment_rank,
        {{ sql_literal(rule.label) }}                      as clv_segment,
        '{{ rule.get("op", ">=") }}'                       as comparison,
        cast({{ rule.percentile }} as double)              as percentile,
        {{ percentile_cont('clv_score', rule.percentile) }} as clv_score_cutoff
    from scored
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
