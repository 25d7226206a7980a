{#- The percentile cut-offs behind clv_segment, one row per rule, so the
    thresholds a segment was drawn with can be read back. -#}
{%- set rules = setting('clv_segments') -%}

with scored as (

    select * from {{ ref('customer_clv') }}

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
