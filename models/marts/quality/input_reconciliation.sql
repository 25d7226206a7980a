{#- Rows in = rows used + rows rejected, per input table. -#}
{%- set inputs = current_dataset()['inputs'] -%}

with counts as (
    {%- for input in inputs %}
    select
        '{{ var("dataset") }}'                                              as dataset,
        '{{ input.source_table }}'                                          as source_table,
        (select count(*) from {{ input_relation(input) }})                as rows_in,
        (select count(*) from {{ ref(input.used) }})                        as rows_used,
        (select count(*) from {{ ref('rejected_rows') }}
          where source_table = '{{ input.source_table }}')                  as rows_rejected
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (

    select
        *,
        rows_in = rows_used + rows_rejected as is_reconciled
    from counts

)

select * from final
