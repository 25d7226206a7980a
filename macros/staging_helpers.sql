{#- Where a seed's raw rows come from: the seed itself, or a file named in
    var('raw_files') (read with every column as text, so staging decides what
    is valid and rejects the rest with a reason). -#}
{% macro raw_relation(seed_name) %}
  {%- set overrides = setting('raw_files') or {} -%}
  {%- if seed_name in overrides -%}
    read_csv('{{ overrides[seed_name] }}', header = true, all_varchar = true)
  {%- else -%}
    {{ ref(seed_name) }}
  {%- endif -%}
{% endmacro %}


{#- 'Yes'/'No' (any case, also true/false, 1/0) to boolean; anything else null. -#}
{% macro parse_yes_no(column) -%}
  case lower(trim(cast({{ column }} as varchar)))
    when 'yes' then true when 'y' then true when 'true' then true when '1' then true
    when 'no' then false when 'n' then false when 'false' then false when '0' then false
  end
{%- endmacro %}


{#- True when a non-blank raw value failed to parse into `parsed`. -#}
{% macro is_unparseable(raw, parsed) -%}
  (nullif(trim(cast({{ raw }} as varchar)), '') is not null and {{ parsed }} is null)
{%- endmacro %}


{#- Join the messages of the checks that fail into one reason string
    (null when every check passes). checks: list of (condition_sql, message_sql). -#}
{% macro rejection_reason(checks) -%}
  nullif(concat_ws('; '
  {%- for condition, message in checks %},
    case when {{ condition }} then {{ message }} end
  {%- endfor %}
  ), '')
{%- endmacro %}


{#- Continuous percentile (Postgres percentile_cont), taken over DOUBLE so DuckDB
    does not round it to the input DECIMAL's scale. -#}
{% macro percentile_cont(column, fraction) -%}
  {{ return(adapter.dispatch('percentile_cont', 'segment_warehouse')(column, fraction)) }}
{%- endmacro %}
{% macro default__percentile_cont(column, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by cast({{ column }} as double precision))
{%- endmacro %}
{% macro duckdb__percentile_cont(column, fraction) -%}
  quantile_cont(cast({{ column }} as double), {{ fraction }})
{%- endmacro %}


{#- Postgres-style float::int (round half to even). -#}
{% macro round_half_even(column) -%}
  {{ return(adapter.dispatch('round_half_even', 'segment_warehouse')(column)) }}
{%- endmacro %}
{% macro default__round_half_even(column) -%}
  cast({{ column }} as integer)
{%- endmacro %}
{% macro duckdb__round_half_even(column) -%}
  cast(round_even(cast({{ column }} as double), 0) as integer)
{%- endmacro %}


{#- numerator / denominator, null when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
  {{ return(adapter.dispatch('safe_divide', 'segment_warehouse')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__safe_divide(numerator, denominator) -%}
  (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}


{#- A deterministic text key from several columns (md5 of the '-'-joined values,
    nulls as a sentinel). -#}
{% macro surrogate_key(columns) -%}
  {{ return(adapter.dispatch('surrogate_key', 'segment_warehouse')(columns)) }}
{%- endmacro %}
{% macro default__surrogate_key(columns) -%}
  md5(
  {%- for c in columns -%}
    coalesce(cast({{ c }} as {{ dbt.type_string() }}), '_null_'){{ " || '-' || " if not loop.last }}
  {%- endfor -%}
  )
{%- endmacro %}


{#- A SQL literal for a Python/Jinja value from a var. -#}
{% macro sql_literal(value) -%}
  {%- if value is none -%}null
  {%- elif value is sameas true -%}true
  {%- elif value is sameas false -%}false
  {%- elif value is number -%}{{ value }}
  {%- else -%}'{{ value | string | replace("'", "''") }}'
  {%- endif -%}
{%- endmacro %}


{#- The rows of a staging base model (every raw row, with rejection_reason and
    raw_row) that staging rejected, in the shape rejected_rows unions: dataset,
    source_table, row_key, reason, raw_row, source_file, line_number, copy_number
    (identical raw rows are told apart by their copy number). `located`: the base
    model has source_file and line_number columns (the files adapter). -#}
{% macro quarantined_rows(base_model, source_table, key_expression, located=false) %}
with checked as (

    select * from {{ ref(base_model) }}

),

final as (

    select
        '{{ var("dataset") }}'                              as dataset,
        '{{ source_table }}'                                as source_table,
        {%- if located %}
        coalesce({{ key_expression }}, 'line ' || cast(line_number as varchar), '(missing)') as row_key,
        {%- else %}
        coalesce({{ key_expression }}, '(missing)')         as row_key,
        {%- endif %}
        rejection_reason                                    as reason,
        cast(raw_row as varchar)                            as raw_row,
        {{ 'cast(source_file as varchar)' if located else 'cast(null as varchar)' }} as source_file,
        {{ 'cast(line_number as bigint)' if located else 'cast(null as bigint)' }}   as line_number,
        row_number() over (partition by raw_row order by rejection_reason, {{ 'source_file, line_number' if located else 'rejection_reason' }}) as copy_number
    from checked
    where rejection_reason is not null

)

select * from final
{% endmacro %}
