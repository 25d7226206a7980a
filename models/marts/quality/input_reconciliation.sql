{#- Every raw record ends in exactly one place: rows_in (counted independently of
    the reader staging uses: the file's lines, Parquet metadata, or the seed) =
    rows_used + rows_rejected + continuation_lines (the extra lines of records whose
    quoted text spans several lines). A folder of parts is counted from its ledger
    (loaded_raw_record_count: each part's lines counted once, when the build that loaded
    it read it), so a build reads only its new parts, never the old ones again. -#}
{%- set inputs = current_dataset()['inputs'] -%}

with counts as (
    {%- for input in inputs %}
    select
        '{{ var("dataset") }}'                                              as dataset,
        '{{ input.source_table }}'                                          as source_table,
        {%- set ledger = loaded_raw_record_count(input.file_entity) if input.get('file_entity') else none %}
        cast({{ ledger if ledger is not none else raw_record_count(input) }} as bigint) as rows_in,
        {#- the files adapter's used rows are its base rows without a reason (its
            customers model may also hold ids derived from the other inputs) -#}
        (select count(*) from {{ ref(input.base) ~ ' where rejection_reason is null' if input.get('base') else ref(input.used) }}) as rows_used,
        (
            select count(*) from {{ ref('rejected_rows') }}
            where source_table = '{{ input.source_table }}'
        )                  as rows_rejected,
        {%- if input.get('base') %}
        (select coalesce(sum(continuation_lines), 0) from {{ ref(input.base) }}) as continuation_lines
        {%- else %}
        cast(0 as bigint)                                                   as continuation_lines
        {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (

    select
        dataset,
        source_table,
        rows_in,
        rows_used,
        rows_rejected,
        cast(continuation_lines as bigint)                                  as continuation_lines,
        rows_in = rows_used + rows_rejected + continuation_lines           as is_reconciled
    from counts

)

select * from final
