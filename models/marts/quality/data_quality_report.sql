{#- Per input table and column: rows, null (or blank) values, distinct values,
    and for the table's key column the rows whose key is shared with another row.
    Profiles the raw input, before staging rejects anything: one aggregate over
    the input's rows for every column but the key, and for a table with a key one
    group-by on the key whose groups give the key's null, distinct and
    duplicate-row counts (one hash of the key instead of a distinct count plus a
    second group-by). -#}
{%- set inputs = current_dataset()['inputs'] -%}
{%- if current_dataset()['adapter'] == 'files' %}
{#- a folder of parts is profiled from its loaded raw_files__<input> table (read_input),
    so the profile runs after those tables are brought up to date in the same build -#}
-- depends_on: {% for input in inputs %}{{ ref('raw_files__' ~ input.file_entity) }}{{ ', ' if not loop.last }}{% endfor %}
{%- endif -%}
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
        keyed.key_duplicate_rows
        {%- else %}
        cast(null as bigint) as key_duplicate_rows
        {%- endif %}
    from (
        select
            count(*) as rows
            {%- for column in columns %}
            {%- if column not in key_column %},
            {%- if column in typed %}
            count(*) filter (where {{ adapter.quote(column) }} is null) as null_{{ loop.index }},
            {%- else %}
            count(*) filter (where nullif(trim(cast({{ adapter.quote(column) }} as varchar)), '') is null) as null_{{ loop.index }},
            {%- endif %}
            count(distinct {{ adapter.quote(column) }}) as distinct_{{ loop.index }}
            {%- endif %}
            {%- endfor %}
        from {{ raw }}
    ) as aggregated
    {%- if key_column %}
    {%- set key = adapter.quote(key_column[0]) %}
    {%- set key_index = columns.index(key_column[0]) + 1 %}
    {#- per key value (null is one group) its rows: a blank or null key's rows are
        its missing values, the non-null groups its distinct values, and the rows
        of a non-blank key held by more than one row its duplicates #}
    cross join (
        select
            cast(coalesce(sum(n) filter (where {{ 'key_value is null' if key_column[0] in typed else "nullif(trim(cast(key_value as varchar)), '') is null" }}), 0) as bigint) as null_{{ key_index }},
            count(*) filter (where key_value is not null) as distinct_{{ key_index }},
            coalesce(sum(n) filter (where n > 1 and nullif(trim(cast(key_value as varchar)), '') is not null), 0) as key_duplicate_rows
        from (
            select {{ key }} as key_value, count(*) as n
            from {{ raw }}
            group by {{ key }}
        ) as key_groups
    ) as keyed
    {%- endif %}
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
