{#- The `files` adapter (also behind the bundled `demo` dataset): canonical
    inputs read from CSV or Parquet files in var('input_dir'), named
    customers / transactions / events / subscriptions (.csv or .parquet, or a
    folder of .parquet files). var('column_map') renames the user's columns onto
    the contract: {transactions: {amount: order_total, transacted_at: order_date}}. -#}

{% macro input_dir() %}
  {%- set configured = var('input_dir', none) -%}
  {%- if configured is none or configured == '' -%}
    {%- set configured = 'data/demo' if var('dataset') == 'demo' else none -%}
  {%- endif -%}
  {%- if configured is none -%}
    {{ exceptions.raise_compiler_error("Invalid setting var('input_dir'): dataset 'files' needs the folder holding customers/transactions/events/subscriptions files. Fix: dbt build --vars '{dataset: files, input_dir: /path/to/folder}'.") }}
  {%- endif -%}
  {%- if not configured.startswith('/') -%}
    {%- set configured = env_var('SEGMENTS_HOME', '.') ~ '/' ~ configured -%}
  {%- endif -%}
  {{ return(configured.rstrip('/')) }}
{% endmacro %}


{#- The file (or parquet glob) holding `entity`, or none when there is none.
    Known only at execution time; at parse time returns none. -#}
{% macro input_file(entity) %}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set dir = input_dir() -%}
  {%- set found = run_query(
      "select file from glob('" ~ dir ~ "/" ~ entity ~ ".*') "
      ~ "where lower(file) similar to '.*\\.(csv|csv\\.gz|tsv|parquet)' order by file") -%}
  {%- if found.rows | length > 0 -%}
    {{ return(found.rows[0][0]) }}
  {%- endif -%}
  {%- set parts = run_query("select count(*) from glob('" ~ dir ~ "/" ~ entity ~ "/*.parquet')") -%}
  {%- if parts.rows[0][0] > 0 -%}
    {{ return(dir ~ '/' ~ entity ~ '/*.parquet') }}
  {%- endif -%}
  {{ return(none) }}
{% endmacro %}


{#- A FROM-clause relation reading `file`: CSV as text (staging types it), Parquet as stored. -#}
{% macro read_input_file(file) -%}
  {%- if file.lower().endswith('.parquet') -%}
    read_parquet('{{ file }}')
  {%- else -%}
    read_csv('{{ file }}', header = true, all_varchar = true)
  {%- endif -%}
{%- endmacro %}


{#- Source column names of the input file (lower-cased), [] when absent. -#}
{% macro input_columns(file) %}
  {%- if file is none -%}{{ return([]) }}{%- endif -%}
  {%- set result = run_query('select * from ' ~ read_input_file(file) ~ ' limit 0') -%}
  {{ return(result.column_names | list) }}
{% endmacro %}


{#- The source expression for contract column `name` of `entity`: the mapped or
    same-named source column (quoted, matched case-insensitively), else null. -#}
{% macro source_column(entity, name, columns) %}
  {%- set mapping = (var('column_map', {}) or {}).get(entity, {}) -%}
  {%- set wanted = (mapping.get(name, name)) | lower -%}
  {%- for c in columns -%}
    {%- if c | lower == wanted -%}{{ return('source.' ~ adapter.quote(c)) }}{%- endif -%}
  {%- endfor -%}
  {{ return('null') }}
{% endmacro %}


{#- Typed, validated rows of one input file: the contract columns try_cast from
    the source, plus rejection_reason (null = usable) and, for rejected rows only,
    the raw row as JSON. Every source row appears exactly once. -#}
{% macro files_base(entity, required, extra_checks=[], key=none, customer_check=false) %}
  {%- set file = input_file(entity) -%}
  {%- set columns = input_columns(file) -%}
  {%- set contract_columns = contract()[entity] -%}
  {#- customers are checked against the customers input only when there is one;
      at parse time the ref is always rendered so dbt orders the DAG -#}
  {%- set customer_check = customer_check and (not execute or input_file('customers') is not none) -%}
  {%- if execute and file is none -%}
    {%- do log("dataset '" ~ var('dataset') ~ "': no " ~ entity ~ " file in " ~ input_dir() ~ " -> the marts that need " ~ entity ~ " will be empty.", info=true) -%}
  {%- endif -%}
  {%- if execute and file is not none -%}
    {%- set missing = [] -%}
    {%- for name in required -%}
      {%- if source_column(entity, name, columns) == 'null' -%}{%- do missing.append(name) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error(
          "Input " ~ file ~ " lacks required column(s) " ~ (missing | join(', ')) ~ " (found: " ~ (columns | join(', ')) ~ "). "
          ~ "Fix: rename them in the file, or map them with var('column_map'), e.g. --vars '{column_map: {" ~ entity ~ ": {" ~ missing[0] ~ ": your_column}}}'.") }}
    {%- endif -%}
  {%- endif %}

with source as (
    {%- if file is not none %}
    select * from {{ read_input_file(file) }}
    {%- else %}
    select null as _no_input where false
    {%- endif %}
),

typed as (

    select
        {%- for name, type in contract_columns %}
        {%- set src = source_column(entity, name, columns) %}
        {%- if type == 'varchar' %}
        nullif(trim(cast({{ src }} as varchar)), '') as {{ name }},
        {%- elif type == 'boolean' %}
        {{ parse_yes_no(src) }} as {{ name }},
        {%- else %}
        try_cast({{ src }} as {{ type }}) as {{ name }},
        {%- endif %}
        {%- if src == 'null' or type == 'varchar' %}
        false as _bad_{{ name }},
        {%- elif type == 'boolean' %}
        {{ is_unparseable(src, parse_yes_no(src)) }} as _bad_{{ name }},
        {%- else %}
        {{ is_unparseable(src, 'try_cast(' ~ src ~ ' as ' ~ type ~ ')') }} as _bad_{{ name }},
        {%- endif %}
        {%- endfor %}
        source as _raw
    from source

),

counted as (

    select
        *
        {%- if key %},
        count(*) over (partition by {{ key }})                                        as _key_copies,
        count(*) over (partition by {% for name, type in contract_columns %}{{ name }}{{ ', ' if not loop.last }}{% endfor %}) as _exact_copies,
        row_number() over (partition by {% for name, type in contract_columns %}{{ name }}{{ ', ' if not loop.last }}{% endfor %}) as _exact_copy_number
        {%- endif %}
    from typed

),

checked as (

    select
        counted.*,
        {%- set checks = [] %}
        {%- for name in required %}
        {%- do checks.append((name ~ " is null and not _bad_" ~ name, "'missing " ~ name ~ "'")) %}
        {%- endfor %}
        {%- for name, type in contract_columns %}
        {%- do checks.append(("_bad_" ~ name, "'" ~ name ~ " is not a valid " ~ type ~ ": ' || '''' || cast(" ~ source_column(entity, name, columns).replace('source.', '_raw.') ~ " as varchar) || ''''")) %}
        {%- endfor %}
        {%- if key %}
        {%- do checks.append(("_exact_copy_number > 1", "'exact duplicate of another row'")) %}
        {%- do checks.append((key ~ " is not null and _key_copies > _exact_copies", "'conflicting duplicate " ~ key ~ " (' || _key_copies || ' rows with this id differ)'")) %}
        {%- endif %}
        {%- if customer_check %}
        {%- do checks.append(("customer_id is not null and _known_customer_id is null", "'unknown customer_id (not in customers)'")) %}
        {%- endif %}
        {%- for check in extra_checks %}
        {%- do checks.append(check) %}
        {%- endfor %}
        {{ rejection_reason(checks) }} as rejection_reason
    from counted
    {%- if customer_check %}
    left join (select customer_id as _known_customer_id from {{ ref('stg_files__customers') }}) as known
        on counted.customer_id = known._known_customer_id
    {%- endif %}

),

final as (

    select
        {%- for name, type in contract_columns %}
        {{ name }},
        {%- endfor %}
        rejection_reason,
        case when rejection_reason is not null then cast(to_json(_raw) as varchar) end as raw_row
    from checked

)

select * from final
{% endmacro %}


{#- Rows of a files_base model that staging rejected, in the rejected_rows shape. -#}
{% macro files_rejected(base_model, entity, key) %}
{{ quarantined_rows(base_model, entity, "cast(" ~ key ~ " as varchar)") }}
{% endmacro %}


{#- Usable rows of a files_base model, contract columns only. -#}
{% macro files_used(base_model, entity) %}
select
    {%- for name, type in contract()[entity] %}
    {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref(base_model) }}
where rejection_reason is null
{% endmacro %}
