{{ config(enabled=dataset_adapter_enabled(), materialized='table') }}
{#- The ledger of incremental loading: one row per part of an input given as a
    folder of parts, as recorded when a build read it into raw_files__<input>
    (macros/file_inputs.sql, files_raw). Empty when no input is a folder. -#}
{%- set entities = ['customers', 'transactions', 'events', 'subscriptions'] %}

with

{%- for entity in entities %}

{{ entity }}_loaded as (

    select
        _source_file,
        count(*) as rows_loaded
    from {{ ref('raw_files__' ~ entity) }}
    where _row_kind <> 'part'
    group by _source_file

),

{{ entity }}_parts as (

    select
        '{{ entity }}'       as input,
        parts._source_file   as file,
        parts._part_size     as size_bytes,
        parts._part_modified as modified_at,
        parts._part_raw_records as raw_records,
        coalesce(loaded.rows_loaded, 0) as rows_loaded,
        parts._loaded_by     as loaded_by,
        parts._loaded_at     as loaded_at
    from {{ ref('raw_files__' ~ entity) }} as parts
    left join {{ entity }}_loaded as loaded on parts._source_file = loaded._source_file
    where parts._row_kind = 'part'

),
{%- endfor %}

final as (
    {%- for entity in entities %}
    select * from {{ entity }}_parts
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
