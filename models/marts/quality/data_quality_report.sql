{#- Per input table and column: rows, null (or blank) values, distinct values,
    and for the table's key column the rows whose key is shared with another row.
    Profiles the raw input, before staging rejects anything; one scan per input. -#}
{%- set inputs = current_dataset()['inputs'] -%}
{%- set parts = [] -%}
{%- for input in inputs -%}
  {%- set raw = input_relation(input) -%}
  {%- set columns = [] -%}
  {%- set typed = [] -%}
  {%- if execute -%}
    {%- set described = run_query('describe select * from ' ~ raw) -%}
    {%- for row in described.rows if row[0] != 'no_input' -%}
      {%- do columns.append(row[0]) -%}
      {#- a number, date, time or boolean has no blank text: null is its only
          missing value, so the check skips the cast to text (same counts) -#}
      {%- if row[1] | upper in ['BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE', 'DATE', 'TIME', 'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'TIMESTAMP WITH TIME ZONE']
            or (row[1] | upper).startswith('DECIMAL') -%}
        {%- do typed.append(row[0]) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if columns | length > 0 -%}
    {%- set key_column = [] -%}
    {%- for column in columns if input.key and column | lower == input.key | lower -%}{%- do key_column.append(column) -%}{%- endfor -%}
    {%- set sql -%}
    select
        '{{ var("dataset") }}' as dataset,
        '{{ input.source_table }}' as source_table,
        unnest([
        {%- for column in columns %}
            {column_name: '{{ column }}', column_position: {{ loop.index }},
             is_key: {{ 'true' if column in key_column else 'false' }},
             null_values: null_{{ loop.index }}, distinct_values: distinct_{{ loop.index }}}{{ ',' if not loop.last }}
        {%- endfor %}
        ], recursive := true),
        rows,
        {%- if key_column %}
        (select coalesce(sum(n), 0) from (
            select count(*) as n from {{ raw }}
            where nullif(trim(cast({{ adapter.quote(key_column[0]) }} as varchar)), '') is not null
            group by {{ adapter.quote(key_column[0]) }} having count(*) > 1)) as key_duplicate_rows
        {%- else %}
        cast(null as bigint) as key_duplicate_rows
        {%- endif %}
    from (
        select
            count(*) as rows
            {%- for column in columns %},
            {%- if column in typed %}
            count(*) filter (where {{ adapter.quote(column) }} is null) as null_{{ loop.index }},
            {%- else %}
            count(*) filter (where nullif(trim(cast({{ adapter.quote(column) }} as varchar)), '') is null) as null_{{ loop.index }},
            {%- endif %}
            count(distinct {{ adapter.quote(column) }}) as distinct_{{ loop.index }}
            {%- endfor %}
        from {{ raw }}
    ) as aggregated
    {%- endset -%}
    {%- do parts.append(sql) -%}
  {%- endif -%}
{%- endfor %}

with profiles as (
    {%- for sql in parts %}
    {{ sql }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if parts | length == 0 %}
    select cast(null as varchar) as dataset, cast(null as varchar) as source_table,
        cast(null as varchar) as column_name, cast(null as integer) as column_position,
        cast(null as boolean) as is_key, cast(null as bigint) as null_values,
        cast(null as bigint) as distinct_values, cast(null as bigint) as rows,
        cast(null as bigint) as key_duplicate_rows
    where false
    {%- endif %}
),

final as (

    select
        dataset,
        source_table,
        column_name,
        cast(column_position as integer)                                    as column_position,
        is_key,
        rows,
        null_values,
        distinct_values,
        case when is_key then key_duplicate_rows end                        as duplicate_keys
    from profiles

)

select * from final
