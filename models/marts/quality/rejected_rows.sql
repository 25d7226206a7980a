{#- The quarantine: every input row staging could not use, with the reason, the
    raw row as JSON, and where it came from (file and, for a line the CSV reader
    could not split, its line number). Nothing is dropped silently: see
    input_reconciliation. -#}
{%- set quarantine = current_dataset()['quarantine'] -%}

with rejected as (
    {%- for model_name in quarantine %}
    select
        dataset,
        source_table,
        row_key,
        reason,
        raw_row,
        source_file,
        line_number,
        copy_number
    from {{ ref(model_name) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if quarantine | length == 0 %}
    select
        cast(null as varchar) as dataset, cast(null as varchar) as source_table,
        cast(null as varchar) as row_key, cast(null as varchar) as reason,
        cast(null as varchar) as raw_row, cast(null as varchar) as source_file,
        cast(null as bigint) as line_number, cast(null as bigint) as copy_number
    where false
    {%- endif %}
),

final as (

    select
        {{ surrogate_key(['source_table', 'raw_row', 'copy_number']) }} as rejected_row_id,
        dataset,
        source_table,
        row_key,
        reason,
        raw_row,
        source_file,
        line_number
    from rejected

)

select * from final
