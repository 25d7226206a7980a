{#- The `files` adapter (also behind the bundled `demo` dataset): the canonical
    inputs read from CSV or Parquet files in setting('input_dir') (or from tables
    named in setting('input_tables')), typed exactly, validated, and every raw row
    accounted for: used, or rejected with its reason and where it came from.

    An input `<entity>` is, in the folder: <entity>.csv | .csv.gz | .tsv | .parquet,
    or a folder <entity>/ of .csv or .parquet parts. setting('column_map') maps the
    user's columns (or SQL expressions over them) onto the contract. -#}


{#- What each input of the files adapter must hold and how its rows are checked:
    key (unique per usable row; null = none), required columns, the dates checked
    against the plausible window, and extra row checks (condition, message). -#}
{% macro files_input_spec() %}
{{ return({
  'customers': {'key': 'customer_id', 'required': ['customer_id'], 'dates': ['signed_up_at'], 'checks': []},
  'transactions': {'key': 'transaction_id', 'required': ['transaction_id', 'customer_id', 'transacted_at', 'amount'],
                   'dates': ['transacted_at'], 'checks': []},
  'events': {'key': none, 'required': ['customer_id', 'event_at', 'event_name'], 'dates': ['event_at'], 'checks': []},
  'subscriptions': {'key': 'subscription_id', 'required': ['subscription_id', 'customer_id', 'plan_level', 'started_at'],
                    'dates': ['started_at', 'ended_at'],
                    'checks': [('monthly_amount < 0', "'negative monthly_amount'"),
                               ('ended_at < started_at', "'ended_at before started_at'"),
                               ('tenure_months < 0', "'negative tenure_months'")]}
}) }}
{% endmacro %}


{% macro input_dir() %}
  {%- set configured = setting('input_dir') -%}
  {%- if configured is none or configured == '' -%}
    {%- set configured = 'data/demo' if var('dataset') == 'demo' else none -%}
  {%- endif -%}
  {%- if configured is none -%}
    {{ exceptions.raise_compiler_error("Invalid setting var('input_dir'): dataset 'files' needs the folder holding customers/transactions/events/subscriptions files. Fix: dbt build --vars '{dataset: files, input_dir: /path/to/folder}'.") }}
  {%- endif -%}
  {%- set configured = configured | string -%}
  {%- if not configured.startswith('/') -%}
    {%- set configured = env_var('SEGMENTS_HOME', '.') ~ '/' ~ configured -%}
  {%- endif -%}
  {{ return(configured.rstrip('/')) }}
{% endmacro %}


{% macro sql_string(value) -%}
'{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- Where input `entity` comes from: {kind: csv | parquet | table | none, files: [...]}.
    Known only at execution time (kind none at parse time). Two candidates for one
    input (customers.csv and customers.parquet) stop the build. -#}
{% macro input_source(entity) %}
  {%- if not execute -%}{{ return({'kind': none, 'files': []}) }}{%- endif -%}
  {%- set tables = setting('input_tables') or {} -%}
  {%- if entity in tables -%}
    {{ return({'kind': 'table', 'files': [tables[entity] | string]}) }}
  {%- endif -%}
  {%- set dir = input_dir() -%}
  {%- set found = run_query(
      "select file, file like " ~ sql_string(dir ~ '/' ~ entity ~ '/%') ~ " as is_part from ("
      ~ "select file from glob(" ~ sql_string(dir ~ '/' ~ entity ~ '.*') ~ ") union all "
      ~ "select file from glob(" ~ sql_string(dir ~ '/' ~ entity ~ '/*') ~ ")) order by file") -%}
  {%- set singles = {'csv': [], 'parquet': []} -%}
  {%- set parts = {'csv': [], 'parquet': []} -%}
  {%- for row in found.rows -%}
    {%- set name = row[0] | lower -%}
    {%- set kind = 'parquet' if name.endswith('.parquet') else ('csv' if (name.endswith('.csv') or name.endswith('.csv.gz') or name.endswith('.tsv')) else none) -%}
    {%- if kind is not none -%}
      {%- do (parts if row[1] else singles)[kind].append(row[0]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set candidates = [] -%}
  {%- for kind in ['csv', 'parquet'] -%}
    {%- for f in singles[kind] -%}{%- do candidates.append({'kind': kind, 'files': [f]}) -%}{%- endfor -%}
    {%- if parts[kind] -%}{%- do candidates.append({'kind': kind, 'files': parts[kind], 'folder': true}) -%}{%- endif -%}
  {%- endfor -%}
  {%- if candidates | length > 1 -%}
    {{ exceptions.raise_compiler_error(
        "Input '" ~ entity ~ "' is ambiguous in input_dir " ~ dir ~ ": found " ~ (candidates | map(attribute='files') | map('join', ', ') | join(' and ')) ~ ". "
        ~ "Fix: keep one file (or one folder of parts of one format) per input.") }}
  {%- endif -%}
  {%- set result = candidates[0] if candidates else {'kind': none, 'files': []} -%}
  {%- if result.get('folder') -%}
    {#- a folder of parts whose every part is loaded, unchanged, is read from its
        loaded table (files_raw) instead of its files -#}
    {%- do result.update({'entity': entity}) -%}
    {%- set loaded = files_loaded_relation(entity) -%}
    {%- if loaded is not none and not files_part_states(result.files, loaded) | rejectattr('state', 'equalto', 'loaded') | list -%}
      {%- do result.update({'loaded': loaded}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(result) }}
{% endmacro %}


{#- The CSV field delimiter of `file`: setting('csv_delimiter'), else the most
    frequent of , ; tab | in its header line. -#}
{% macro csv_delimiter(file) %}
  {%- set configured = setting('csv_delimiter') -%}
  {%- if configured -%}{{ return(configured) }}{%- endif -%}
  {%- set header = run_query("select line from read_csv(" ~ sql_string(file) ~ ", header = false, columns = {'line': 'varchar'}, "
      ~ "delim = chr(31), quote = '', escape = '', comment = '', auto_detect = false, strict_mode = false) where line is not null limit 1") -%}
  {%- set line = header.rows[0][0] if header.rows else '' -%}
  {%- set ns = namespace(best=',', count=0) -%}
  {%- for candidate in [',', ';', '\t', '|'] -%}
    {%- if line.count(candidate) > ns.count -%}{%- set ns.best = candidate -%}{%- set ns.count = line.count(candidate) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(ns.best) }}
{% endmacro %}


{#- A FROM-clause relation over the raw rows of `source` (see input_source), with
    the file each row came from as _source_file. CSV is read as text with a fixed
    dialect; `rejects` (a name) stores the lines the reader cannot split in the
    temporary tables <rejects>_errors / <rejects>_scans; without it such lines are
    skipped (profiles, column lists). -#}
{% macro read_input(source, rejects=none) -%}
  {%- set files = source.files -%}
  {%- if source.get('loaded') -%}
    {#- a folder of parts, already loaded into its raw_files__<entity> table (files_raw) -#}
    (select * exclude ({{ files_raw_internal_columns() | join(', ') }}) from {{ source.loaded }} where _row_kind = 'row')
  {%- elif source.kind == 'table' -%}
    (select *, {{ sql_string(files[0]) }} as _source_file from {{ files[0] }})
  {%- elif source.kind == 'parquet' -%}
    read_parquet([{% for f in files %}{{ sql_string(f) }}{{ ', ' if not loop.last }}{% endfor %}], filename = '_source_file', union_by_name = true)
  {%- elif source.kind == 'csv' -%}
    {%- set quote = setting('csv_quote') -%}
    read_csv([{% for f in files %}{{ sql_string(f) }}{{ ', ' if not loop.last }}{% endfor %}],
        header = true, all_varchar = true, delim = {{ sql_string(csv_delimiter(files[0])) }},
        quote = {{ sql_string(quote) }}, escape = {{ sql_string(quote) }}, comment = '',
        filename = '_source_file'{{ ', union_by_name = true' if files | length > 1 }},
        {%- if rejects %}
        store_rejects = true, rejects_table = '{{ rejects }}_errors', rejects_scan = '{{ rejects }}_scans'
        {%- else %}
        ignore_errors = true
        {%- endif %})
  {%- else -%}
    (select null as _source_file where false)
  {%- endif -%}
{%- endmacro %}


{#- Source columns of `source` as [(name, duckdb type)], _source_file excluded. -#}
{% macro input_columns(source) %}
  {%- if source.kind is none -%}{{ return([]) }}{%- endif -%}
  {%- if source.get('folder') and not source.get('loaded') and source.get('entity') -%}
    {#- a folder with parts not loaded yet: the loaded parts' columns (from their
        table, not their files), then those only the new or changed parts have -#}
    {%- set loaded = files_loaded_relation(source.entity) -%}
    {%- if loaded is not none -%}
      {%- set columns = input_columns({'kind': source.kind, 'files': source.files, 'loaded': loaded}) -%}
      {%- set fresh = files_part_states(source.files, loaded) | selectattr('state', 'in', ['new', 'changed']) | map(attribute='file') | list -%}
      {%- set known = columns | map(attribute=0) | map('lower') | list -%}
      {%- for name, type in (input_columns({'kind': source.kind, 'files': fresh}) if fresh else []) if name | lower not in known -%}
        {%- do columns.append((name, type)) -%}
      {%- endfor -%}
      {{ return(columns) }}
    {%- endif -%}
  {%- endif -%}
  {%- set result = run_query('describe select * from ' ~ read_input(source) ~ ' limit 0') -%}
  {%- set columns = [] -%}
  {%- for row in result.rows if row[0] != '_source_file' -%}
    {%- do columns.append((row[0], row[1] | upper)) -%}
  {%- endfor -%}
  {{ return(columns) }}
{% endmacro %}


{#- How contract column `name` of `entity` is read from the source: {sql, type, mapped}
    where sql is the source column (mapped or same-named, matched case-insensitively),
    or the mapping's SQL expression, or 'null'. -#}
{% macro source_column(entity, name, columns) %}
  {%- set mapping = (setting('column_map') or {}).get(entity, {}) or {} -%}
  {%- set wanted = (mapping.get(name, name)) | string -%}
  {%- for c, type in columns -%}
    {%- if c | lower == wanted | lower -%}
      {{ return({'sql': 'source.' ~ adapter.quote(c), 'type': type, 'mapped': name in mapping, 'column': c}) }}
    {%- endif -%}
  {%- endfor -%}
  {%- if name in mapping and not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', wanted) -%}
    {{ return({'sql': '(' ~ wanted ~ ')', 'type': 'EXPRESSION', 'mapped': true, 'column': none}) }}
  {%- endif -%}
  {{ return({'sql': 'null', 'type': none, 'mapped': name in mapping, 'column': none}) }}
{% endmacro %}


{#- Text of a number with the configured digit-group and decimal separators removed
    or turned into '.'. -#}
{% macro number_text(text) -%}
  {%- set thousands = setting('input_thousands_separator') -%}
  {%- set decimal = setting('input_decimal_separator') -%}
  {%- set expr = 'trim(' ~ text ~ ')' -%}
  {%- if thousands -%}{%- set expr = 'replace(' ~ expr ~ ', ' ~ sql_string(thousands) ~ ", '')" -%}{%- endif -%}
  {%- if decimal == ',' -%}{%- set expr = 'replace(' ~ expr ~ ", ',', '.')" -%}{%- endif -%}
  nullif({{ expr }}, '')
{%- endmacro %}


{#- Text to timestamp: the configured strptime formats, else ISO 8601; a timestamp
    with an offset (Z, +05:00) is converted to setting('input_timezone'). -#}
{% macro timestamp_from_text(text) -%}
  {%- set formats = setting('input_timestamp_formats') or [] -%}
  {%- set iso -%}
  case
    when length({{ text }}) > 19
         and regexp_matches({{ text }}, '\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$')
      then timezone({{ sql_string(setting('input_timezone')) }}, try_cast({{ text }} as timestamptz))
    else try_cast({{ text }} as timestamp)
  end
  {%- endset -%}
  {%- if formats -%}
  coalesce(try_strptime({{ text }}, [{% for f in formats %}{{ sql_string(f) }}{{ ', ' if not loop.last }}{% endfor %}]), {{ iso }})
  {%- else -%}
  {{ iso }}
  {%- endif -%}
{%- endmacro %}


{#- The typed value of a source column (or expression) `src` of duckdb type
    `src_type` as contract type `type`, and the condition under which a non-blank
    raw value could not be taken exactly: {value, bad, inexact}. A value is kept
    exactly or the row is rejected: never rounded, truncated or re-zoned silently. -#}
{% macro typed_value(src, src_type, type, text_source=true) %}
  {%- set text_like = src_type in (none, 'VARCHAR', 'EXPRESSION') -%}
  {%- set text = 'nullif(trim(cast(' ~ src ~ ' as varchar)), \'\')' -%}
  {%- if src == 'null' -%}
    {{ return({'value': 'cast(null as ' ~ type ~ ')', 'bad': 'false', 'inexact': 'false'}) }}
  {%- elif type == 'varchar' -%}
    {#- text from a CSV field (or an expression) is trimmed, as CSV readers do; a
        typed input's (Parquet, table) string is kept as stored -#}
    {%- set kept = text if (text_source or src_type == 'EXPRESSION') else 'nullif(cast(' ~ src ~ ' as varchar), \'\')' -%}
    {{ return({'value': kept, 'bad': 'false', 'inexact': 'contains(' ~ kept ~ ', chr(0))'}) }}
  {%- elif type == 'boolean' -%}
    {%- if src_type == 'BOOLEAN' -%}{{ return({'value': src, 'bad': 'false', 'inexact': 'false'}) }}{%- endif -%}
    {{ return({'value': parse_yes_no(src), 'bad': is_unparseable(src, parse_yes_no(src)), 'inexact': 'false'}) }}
  {%- elif type == 'timestamp' -%}
    {%- if src_type in ('TIMESTAMP', 'TIMESTAMP_NS', 'TIMESTAMP_MS', 'TIMESTAMP_S', 'DATE') -%}
      {{ return({'value': 'cast(' ~ src ~ ' as timestamp)', 'bad': 'false', 'inexact': 'false'}) }}
    {%- elif src_type == 'TIMESTAMP WITH TIME ZONE' -%}
      {{ return({'value': 'timezone(' ~ sql_string(setting('input_timezone')) ~ ', ' ~ src ~ ')', 'bad': 'false', 'inexact': 'false'}) }}
    {%- endif -%}
    {%- set value = timestamp_from_text(text) -%}
    {{ return({'value': value, 'bad': '(' ~ text ~ ' is not null and (' ~ value ~ ') is null)', 'inexact': 'false'}) }}
  {%- elif type.startswith('decimal') or type == 'integer' -%}
    {%- set scale = (type.split(',')[1] | replace(')', '') | trim | int) if type.startswith('decimal') else 0 -%}
    {%- set integer_types = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT'] -%}
    {%- set src_scale = (src_type.split(',')[1] | replace(')', '') | trim | int) if (src_type or '').startswith('DECIMAL') else 99 -%}
    {%- if src_type in integer_types or src_scale <= scale -%}
      {%- set value = 'try_cast(' ~ src ~ ' as ' ~ type ~ ')' -%}
      {{ return({'value': value, 'bad': '(' ~ src ~ ' is not null and ' ~ value ~ ' is null)', 'inexact': 'false'}) }}
    {%- elif not text_like -%}
      {#- double or wider decimal: exact only when the value has no digits past the scale -#}
      {%- set value = 'try_cast(' ~ src ~ ' as ' ~ type ~ ')' -%}
      {%- set wide = 'try_cast(' ~ src ~ ' as decimal(38, 10))' -%}
      {{ return({'value': value, 'bad': '(' ~ src ~ ' is not null and ' ~ value ~ ' is null)',
                 'inexact': '(' ~ value ~ ' is not null and ' ~ wide ~ ' <> ' ~ value ~ ')'}) }}
    {%- endif -%}
    {%- set number = number_text(text) -%}
    {%- set wide = 'try_cast(' ~ number ~ ' as decimal(38, 10))' -%}
    {%- if type == 'integer' -%}
      {%- set value = 'case when ' ~ wide ~ ' = trunc(' ~ wide ~ ') then try_cast(' ~ wide ~ ' as integer) end' -%}
      {{ return({'value': value, 'bad': '(' ~ number ~ ' is not null and ' ~ wide ~ ' is null)',
                 'inexact': '(' ~ wide ~ ' is not null and (' ~ value ~ ') is null)'}) }}
    {%- endif -%}
    {%- set value = 'try_cast(' ~ number ~ ' as ' ~ type ~ ')' -%}
    {{ return({'value': value, 'bad': '(' ~ number ~ ' is not null and (' ~ value ~ ') is null)',
               'inexact': '(' ~ value ~ ' is not null and rtrim(substr(split_part(split_part(lower(' ~ number ~ "), 'e', 1), '.', 2), " ~ (scale + 1) ~ "), '0') <> '')"}) }}
  {%- else -%}
    {%- set value = 'try_cast(' ~ (number_text(text) if text_like else src) ~ ' as ' ~ type ~ ')' -%}
    {{ return({'value': value, 'bad': '(' ~ (text if text_like else src) ~ ' is not null and ' ~ value ~ ' is null)', 'inexact': 'false'}) }}
  {%- endif -%}
{% endmacro %}


{#- The message for a value that could not be taken exactly. -#}
{% macro inexact_message(name, type) -%}
  {%- if type == 'varchar' -%}'{{ name }} contains a NUL byte'
  {%- elif type == 'integer' -%}'{{ name }} is not a whole number'
  {%- else -%}'{{ name }} has more decimal places than {{ type }} holds (kept exactly or rejected, never rounded)'
  {%- endif -%}
{%- endmacro %}


{#- Lower and upper (exclusive) bounds of the plausible date window, as SQL. -#}
{% macro input_date_window() %}
  {%- set low = setting('input_date_min') -%}
  {%- set high = setting('input_date_max') -%}
  {%- set high_sql = ("cast(" ~ sql_string(high) ~ " as timestamp)") if high else ("cast(" ~ sql_string(run_started_at.strftime('%Y-%m-%d')) ~ " as timestamp)") -%}
  {{ return({'low': "cast(" ~ sql_string(low) ~ " as timestamp)", 'high': high_sql ~ " + interval 1 day",
             'label': "[" ~ low ~ ", " ~ (high or run_started_at.strftime('%Y-%m-%d')) ~ "]"}) }}
{% endmacro %}


{#- Every raw row of one input, typed, with the reason it cannot be used (null when
    it can), the file it came from, the line number of a line the CSV reader could
    not split, and the raw row as JSON for rejected rows. One row per raw record;
    the lines the reader rejects are added by files_unparsed_lines() (post-hook). -#}
{% macro files_base(entity) %}
  {{- config(materialized='table',
             pre_hook="{{ files_forget_rejects('" ~ entity ~ "') }}",
             post_hook=["{{ files_unparsed_lines('" ~ entity ~ "') }}", "{{ files_resolve_duplicates('" ~ entity ~ "') }}"]) -}}
  {%- set spec = files_input_spec()[entity] -%}
  {%- set key = spec.key -%}
  {%- set source = input_source(entity) -%}
  {#- a folder of parts is read from its loaded table (raw_files__<entity>), which
      each build extends with the new parts only (files_raw) -#}
  {%- set loaded = ref('raw_files__' ~ entity) -%}
  {%- if source.get('folder') -%}{%- do source.update({'loaded': loaded}) -%}{%- endif -%}
  {%- set columns = input_columns(source) -%}
  {%- set contract_columns = contract()[entity] -%}
  {%- set has_customers = entity != 'customers' and (not execute or input_source('customers').kind is not none) -%}
  {%- set window = input_date_window() -%}
  {%- if execute and source.kind is none -%}
    {%- do log("dataset '" ~ var('dataset') ~ "': no " ~ entity ~ " input in " ~ input_dir() ~ " -> the marts that need " ~ entity ~ " will be empty.", info=true) -%}
  {%- endif -%}
  {%- set cols = {} -%}
  {%- for name, type in contract_columns -%}
    {%- set src = source_column(entity, name, columns) -%}
    {%- do cols.update({name: typed_value(src.sql, src.type, type, source.kind == 'csv')}) -%}
    {%- do cols[name].update({'src': src.sql, 'type': type}) -%}
  {%- endfor %}

with source as (

    select * from {{ read_input(source, rejects=('segkit_rejects_' ~ entity) if source.kind == 'csv' and not source.get('loaded') else none) }}

),

typed as (

    select
        {%- for name, type in contract_columns %}
        {%- if name == 'ended_at' %}
        {#- "no end" placeholders (9999-12-31, infinity) mean open -#}
        case when not isfinite({{ cols[name].value }}) or {{ cols[name].value }} >= cast({{ sql_string(setting('input_open_end_from')) }} as timestamp)
             then null else {{ cols[name].value }} end as {{ name }},
        {%- else %}
        {{ cols[name].value }} as {{ name }},
        {%- endif %}
        {{ cols[name].bad }} as _bad_{{ name }},
        {{ cols[name].inexact }} as _inexact_{{ name }},
        {%- endfor %}
        {%- if columns %}
        { {%- for c, t in columns %}{{ sql_string(c) }}: source.{{ adapter.quote(c) }}{{ ', ' if not loop.last }}{% endfor -%} } as _raw,
        {%- else %}
        cast(null as varchar) as _raw,
        {%- endif %}
        {%- if source.kind == 'csv' and columns %}
        {#- lines beyond the first of a record whose quoted text holds line breaks -#}
        {%- set quoted = [] -%}
        {%- for c, t in columns -%}{%- do quoted.append('source.' ~ adapter.quote(c)) -%}{%- endfor -%}
        {%- set joined = "concat_ws('', " ~ (quoted | join(', ')) ~ ")" -%}
        case when contains({{ joined }}, chr(10)) then length({{ joined }}) - length(replace({{ joined }}, chr(10), '')) else 0 end as _continuation_lines,
        {%- else %}
        0 as _continuation_lines,
        {%- endif %}
        source._source_file
    from source

),

{%- if key %}

{#- keys that occur more than once in the raw input (a second, key-only read):
    their rows keep raw_row so that files_resolve_duplicates (post-hook) can pick
    one version by the stated rule. -#}
repeated_keys as (

    select _key as _repeated_key
    from (select {{ cols[key].value }} as _key from {{ read_input(source) }} as source) as keys
    where _key is not null
    group by _key
    having count(*) > 1

),
{%- endif %}

{%- if execute and has_customers %}

known_customers as (

    select customer_id as _known_customer_id, bool_or(rejection_reason is null) as _known_usable
    from {{ ref('base_files__customers') }}
    where customer_id is not null
    group by customer_id

),
{%- else %}
{#- the customers check runs only when there is a customers input -#}
-- depends_on: {{ ref('base_files__customers') if entity != 'customers' else '' }}
{%- endif %}

checked as (

    select
        typed.*,
        {%- set checks = [] %}
        {%- for name in spec.required %}
        {%- do checks.append((name ~ " is null and not _bad_" ~ name, "'missing " ~ name ~ "'")) %}
        {%- endfor %}
        {%- for name, type in contract_columns %}
        {%- set raw_text = "cast(" ~ cols[name].src.replace('source.', '_raw.') ~ " as varchar)" if cols[name].src.startswith('source.') else "'(expression)'" %}
        {%- do checks.append(("_bad_" ~ name, "'" ~ name ~ " is not a valid " ~ type ~ ": ' || '''' || coalesce(" ~ raw_text ~ ", '') || ''''")) %}
        {%- do checks.append(("_inexact_" ~ name, inexact_message(name, type) ~ " || ': ' || '''' || coalesce(" ~ raw_text ~ ", '') || ''''")) %}
        {%- endfor %}
        {%- for name in spec.dates %}
        {#- an end date may lie ahead (a scheduled end): only its lower bound is checked -#}
        {%- set upper = (" or " ~ name ~ " >= " ~ window.high) if name != 'ended_at' else '' %}
        {%- do checks.append(("not _bad_" ~ name ~ " and (" ~ name ~ " < " ~ window.low ~ upper ~ ")",
            "'" ~ name ~ " ' || cast(" ~ name ~ " as varchar) || ' is outside the plausible window " ~ window.label ~ " (settings input_date_min, input_date_max)'")) %}
        {%- endfor %}
        {%- if execute and has_customers %}
        {%- do checks.append(("customer_id is not null and _known_customer_id is null", "'unknown customer_id (not in customers)'")) %}
        {%- do checks.append(("_known_customer_id is not null and not _known_usable", "'customer_id has no usable row in customers (see its rejection there)'")) %}
        {%- endif %}
        {%- for check in spec.checks %}
        {%- do checks.append(check) %}
        {%- endfor %}
        {{ rejection_reason(checks) }} as _row_reason,
        {{ 'repeated_keys._repeated_key is not null' if key else 'false' }} as _is_repeated
    from typed
    {%- if execute and has_customers %}
    left join known_customers on typed.customer_id = known_customers._known_customer_id
    {%- endif %}
    {%- if key %}
    left join repeated_keys on typed.{{ key }} = repeated_keys._repeated_key
    {%- endif %}

),

final as (

    select
        {%- for name, type in contract_columns %}
        {{ name }},
        {%- endfor %}
        _row_reason                                                            as rejection_reason,
        case when _row_reason is not null or _is_repeated then cast(to_json(_raw) as varchar) end as raw_row,
        {#- where a used row came from is the input itself: kept for the rows that
            need it (rejected, or sharing a key), which keeps the load cheap -#}
        case when _row_reason is not null or _is_repeated then cast(_source_file as varchar) end as source_file,
        cast(null as bigint)                                                  as line_number,
        cast(_continuation_lines as bigint)                                   as continuation_lines
    from checked

)

select * from final
{% endmacro %}


{#- Post-hook of a files_base model: add the lines the CSV reader could not split
    (too many or too few fields, bad quoting, bad encoding) as rejected rows with
    their file, line number and raw text. The reader's rejects tables are
    temporary tables of this connection, written by the model's own scan. -#}
{% macro files_unparsed_lines(entity) %}
  {%- set source = input_source(entity) if execute else {} -%}
  {%- if not execute or source.kind != 'csv' -%}
    {{ return('select 1') }}
  {%- endif -%}
  {%- if source.get('folder') -%}
    {#- a folder's unparsed lines were recorded when its parts were loaded (files_raw) -#}
    {%- set sql -%}
insert into {{ this }} (rejection_reason, raw_row, source_file, line_number, continuation_lines)
select
    _unparsed_reason,
    to_json({'line': _unparsed_line}),
    _source_file,
    _line_number,
    greatest(len(list_filter(string_split(_unparsed_line, chr(10)), lambda l: trim(l) <> '')) - 1, 0)
from {{ ref('raw_files__' ~ entity) }}
where _row_kind = 'unparsed'
    {%- endset -%}
    {{ return(sql) }}
  {%- endif -%}
  {%- set contract_columns = contract()[entity] -%}
  {%- set sql -%}
insert into {{ this }} (rejection_reason, raw_row, source_file, line_number, continuation_lines)
select
    'line could not be read: ' || string_agg(distinct cast(errors.error_type as varchar) || ' (' || errors.error_message || ')', '; ' order by cast(errors.error_type as varchar) || ' (' || errors.error_message || ')'),
    to_json({'line': any_value(errors.csv_line)}),
    scans.file_path,
    errors.line,
    greatest(len(list_filter(string_split(any_value(errors.csv_line), chr(10)), lambda l: trim(l) <> '')) - 1, 0)
from segkit_rejects_{{ entity }}_errors as errors
join segkit_rejects_{{ entity }}_scans as scans using (scan_id, file_id)
group by scans.file_path, errors.line
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}


{#- Post-hook of a files_base model with a key: of several rows with one key, one
    version is kept by a stated rule (a usable row first, then the one with the
    most filled-in fields, then the smallest raw row text); the others are
    rejected as exact or conflicting duplicates. Only the rows whose key repeats
    (they alone carry raw_row when usable) are ranked, so the cost stays that of a
    group-by on the key. -#}
{% macro files_resolve_duplicates(entity) %}
  {%- set key = files_input_spec()[entity].key -%}
  {%- if not execute or key is none -%}{{ return('select 1') }}{%- endif -%}
  {%- set filled = [] -%}
  {%- for name, type in contract()[entity] -%}{%- do filled.append('(' ~ name ~ ' is not null)::int') -%}{%- endfor -%}
  {%- set order -%}(rejection_reason is null) desc, {{ filled | join(' + ') }} desc, raw_row{%- endset -%}
  {%- set sql -%}
update {{ this }} as base
set rejection_reason = case when versions.version = 1 then base.rejection_reason
        else concat_ws('; ', base.rejection_reason,
            case when versions.raw_row = versions.kept_raw_row then 'exact duplicate of another row'
                 else 'conflicting duplicate {{ key }}: another version was kept (a usable row first, then the most filled-in fields, then the smallest raw row)' end) end,
    raw_row = case when versions.version = 1 and base.rejection_reason is null then null else base.raw_row end
from (
    select
        rowid as row_ref,
        raw_row,
        row_number() over (partition by {{ key }} order by {{ order }}) as version,
        first_value(raw_row) over (partition by {{ key }} order by {{ order }}) as kept_raw_row
    from {{ this }}
    where raw_row is not null
      and {{ key }} in (select {{ key }} from {{ this }} where raw_row is not null and {{ key }} is not null
                        group by {{ key }} having count(*) > 1)
) as versions
where base.rowid = versions.row_ref
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}


{#- Pre-hook of a files_base model: forget the rejects of an earlier scan. -#}
{% macro files_forget_rejects(entity) %}
drop table if exists segkit_rejects_{{ entity }}_errors; drop table if exists segkit_rejects_{{ entity }}_scans
{% endmacro %}


{#- Rows of a files_base model that staging rejected, in the rejected_rows shape. -#}
{% macro files_rejected(base_model, entity) %}
{%- set key = files_input_spec()[entity].key or 'customer_id' -%}
{{ quarantined_rows(base_model, entity, "cast(" ~ key ~ " as varchar)", located=true) }}
{% endmacro %}


{#- Usable rows of a files_base model, contract columns only. Stops the build when
    the input's share of rejected rows passes setting('input_max_rejected_share'),
    naming the top reasons and the likely fix. -#}
{% macro files_used(base_model, entity) %}
  {%- if execute -%}
    {%- set limit = setting('input_max_rejected_share') -%}
    {%- set counts = run_query("select count(*), count(rejection_reason) from " ~ ref(base_model)) -%}
    {%- set total = counts.rows[0][0] -%}
    {%- set rejected = counts.rows[0][1] -%}
    {%- if total > 0 and rejected / total > limit -%}
      {%- set top = run_query("select regexp_replace(reason, ': ''.*$', '') as kind, count(*) as n, any_value(reason) as example from ("
          ~ "select unnest(string_split(rejection_reason, '; ')) as reason from " ~ ref(base_model) ~ " where rejection_reason is not null) "
          ~ "group by kind order by n desc, kind limit 3") -%}
      {%- set reasons = [] -%}
      {%- set hints = [] -%}
      {%- for row in top.rows -%}
        {%- do reasons.append(row[2] ~ ' (' ~ row[1] ~ ' rows)') -%}
        {%- if 'decimal' in row[0] and ',' in row[2].split(": '")[-1] -%}{%- do hints.append("numbers look like decimal commas: set input_decimal_separator: ','") -%}{%- endif -%}
        {%- if 'timestamp' in row[0] and 'not a valid' in row[0] -%}{%- do hints.append("dates are not ISO 8601: set input_timestamp_formats, e.g. ['%d/%m/%Y %H:%M', '%d/%m/%Y']") -%}{%- endif -%}
        {%- if row[0].startswith('missing') -%}{%- do hints.append("a required column is empty: check column_map for " ~ entity) -%}{%- endif -%}
        {%- if 'outside the plausible window' in row[0] -%}{%- do hints.append("widen input_date_min / input_date_max if these dates are real") -%}{%- endif -%}
        {%- if 'unknown customer_id' in row[0] -%}{%- do hints.append("the customers input lacks these ids: add them, or leave out customers to derive them") -%}{%- endif -%}
        {%- if 'line could not be read' in row[0] -%}{%- do hints.append("check csv_delimiter / csv_quote") -%}{%- endif -%}
      {%- endfor -%}
      {%- if not hints -%}{%- do hints.append("fix the rows in the file, or raise input_max_rejected_share") -%}{%- endif -%}
      {{ exceptions.raise_compiler_error(
          "Input '" ~ entity ~ "' (" ~ (input_source(entity).files | join(', ')) ~ "): " ~ rejected ~ " of " ~ total ~ " rows rejected ("
          ~ ((100.0 * rejected / total) | round(1)) ~ "%), more than input_max_rejected_share " ~ limit ~ ". Top reasons: "
          ~ (reasons | join('; ')) ~ ". Likely fix: " ~ (hints | unique | join('; ')) ~ ". The rows are in " ~ ref(base_model) ~ " (rejection_reason).") }}
    {%- endif -%}
  {%- endif %}
select
    {%- for name, type in contract()[entity] %}
    {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref(base_model) }}
where rejection_reason is null
{% endmacro %}


{#- The candidate nearest to `name` (for "did you mean"): edit distance
    (settings_edit_distance, macros/validate_settings.sql), case-insensitive, where
    a name inside the other (total / order_total) counts as close. -#}
{% macro nearest_name(name, candidates) %}
  {%- set ns = namespace(best=none, best_distance=999) -%}
  {%- for candidate in candidates -%}
    {%- set a = name | string | lower -%}
    {%- set b = candidate | string | lower -%}
    {%- set distance = settings_edit_distance(a, b) -%}
    {%- if a in b or b in a -%}{%- set distance = [distance, ((a | length) - (b | length)) | abs / 2] | min -%}{%- endif -%}
    {%- if distance < ns.best_distance -%}
      {%- set ns.best = candidate -%}{%- set ns.best_distance = distance -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.best) }}
{% endmacro %}


{% macro input_error(problem, fix) %}
  {{ exceptions.raise_compiler_error("Input layer: " ~ problem ~ ". Fix: " ~ fix ~ ".") }}
{% endmacro %}


{#- on-run-start, datasets files/demo: the folder, the inputs found in it, the
    column mapping and the format settings are checked before any model runs;
    each mistake stops the build naming the folder, file, mapping or setting. -#}
{% macro validate_inputs() %}
  {%- if not execute or var('dataset') not in ['files', 'demo'] -%}{{ return('select 1 as inputs_ok') }}{%- endif -%}
  {%- set entities = files_input_spec().keys() | list -%}
  {%- set contract_names = {} -%}
  {%- for entity in entities -%}{%- do contract_names.update({entity: contract()[entity] | map(attribute=0) | list}) -%}{%- endfor -%}

  {#- format settings -#}
  {%- set delimiter = setting('csv_delimiter') -%}
  {%- if delimiter is not none and (delimiter is not string or delimiter | length != 1) -%}
    {{ settings_error('csv_delimiter', "'" ~ delimiter ~ "' is not one character", "use e.g. ';' or '\\t', or null to detect it from the header line") }}
  {%- endif -%}
  {%- set quote = setting('csv_quote') -%}
  {%- if quote is not string or quote | length != 1 -%}
    {{ settings_error('csv_quote', "'" ~ quote ~ "' is not one character", "use '\"' (the default) or \"'\"") }}
  {%- endif -%}
  {%- set decimal = setting('input_decimal_separator') -%}
  {%- if decimal not in ['.', ','] -%}
    {{ settings_error('input_decimal_separator', "'" ~ decimal ~ "' is not allowed", "use '.' or ','") }}
  {%- endif -%}
  {%- set thousands = setting('input_thousands_separator') -%}
  {%- if thousands is not none and (thousands not in [',', '.', ' ', "'"] or thousands == decimal) -%}
    {{ settings_error('input_thousands_separator', "'" ~ thousands ~ "' is not allowed with input_decimal_separator '" ~ decimal ~ "'", "use null, ',', '.', ' ' or \"'\", different from the decimal separator") }}
  {%- endif -%}
  {%- set formats = setting('input_timestamp_formats') -%}
  {%- if formats is string or formats is mapping or formats is not iterable -%}
    {{ settings_error('input_timestamp_formats', "expected a list of strptime formats", "e.g. ['%d/%m/%Y %H:%M', '%d/%m/%Y'], or [] for ISO 8601") }}
  {%- endif -%}
  {%- for name in ['input_date_min', 'input_date_max', 'input_open_end_from'] -%}
    {%- set value = setting(name) -%}
    {%- if (value is none and name != 'input_date_max') or (value is not none and run_query("select try_cast(" ~ sql_string(value) ~ " as date) is null").rows[0][0]) -%}
      {{ settings_error(name, "'" ~ value ~ "' is not a date", "write it as YYYY-MM-DD" ~ (", or null for the day the build runs" if name == 'input_date_max' else '')) }}
    {%- endif -%}
  {%- endfor -%}
  {%- set zone = setting('input_timezone') -%}
  {%- if run_query("select count(*) from pg_timezone_names() where name = " ~ sql_string(zone)).rows[0][0] == 0 -%}
    {{ settings_error('input_timezone', "'" ~ zone ~ "' is not a time zone name", "use an IANA name such as UTC or Europe/Paris") }}
  {%- endif -%}
  {%- set share = setting('input_max_rejected_share') -%}
  {%- if share is not number or share <= 0 or share > 1 -%}
    {{ settings_error('input_max_rejected_share', "'" ~ share ~ "' is not a share in (0, 1]", "e.g. 0.2 (stop when more than 20% of an input's rows are rejected), 1 to never stop") }}
  {%- endif -%}

  {#- input names in the mappings -#}
  {%- set column_map = setting('column_map') or {} -%}
  {%- set tables = setting('input_tables') or {} -%}
  {%- for name, value in [('column_map', column_map), ('input_tables', tables)] -%}
    {%- if value is not mapping -%}
      {{ settings_error(name, "expected a mapping input: ...", "e.g. {transactions: ...}") }}
    {%- endif -%}
    {%- for entity in value.keys() if entity not in entities -%}
      {{ settings_error(name, "'" ~ entity ~ "' is not an input (did you mean '" ~ nearest_name(entity, entities) ~ "'?)", "use one of " ~ (entities | join(', '))) }}
    {%- endfor -%}
  {%- endfor -%}

  {#- the folder and what it holds -#}
  {%- set sources = {} -%}
  {%- for entity in entities -%}{%- do sources.update({entity: input_source(entity)}) -%}{%- endfor -%}
  {%- set found = sources.values() | selectattr('kind') | list -%}
  {%- if not found -%}
    {%- set dir = input_dir() -%}
    {%- set listing = run_query("select file from glob(" ~ sql_string(dir ~ '/*') ~ ") order by file limit 20").rows | map(attribute=0) | map('replace', dir ~ '/', '') | list -%}
    {{ input_error("input_dir " ~ dir ~ (" is empty or does not exist" if not listing else (" holds no input (found: " ~ (listing | join(', ')) ~ ")"))
        ~ "; looked for customers, transactions, events, subscriptions, each as <name>.csv, <name>.csv.gz, <name>.tsv, <name>.parquet or a folder <name>/ of .csv or .parquet parts",
        "point var('input_dir') at the folder holding them (relative paths start at the project), or rename the files, e.g. orders.csv -> transactions.csv") }}
  {%- endif -%}

  {#- the column mapping against the columns each input has -#}
  {%- for entity in entities -%}
    {%- set mapping = column_map.get(entity) -%}
    {%- if mapping is not none and mapping is not mapping -%}
      {{ settings_error('column_map', "column_map." ~ entity ~ " is not a mapping", "write {" ~ entity ~ ": {contract_column: your_column}}") }}
    {%- endif -%}
    {%- set mapping = mapping or {} -%}
    {%- set source = sources[entity] -%}
    {%- if mapping and source.kind is none -%}
      {{ settings_error('column_map', "column_map." ~ entity ~ " is set but input_dir " ~ input_dir() ~ " has no " ~ entity ~ " input", "add the " ~ entity ~ " file, or remove the mapping") }}
    {%- endif -%}
    {%- if source.kind is not none -%}
      {%- set columns = input_columns(source) -%}
      {%- set names = columns | map(attribute=0) | list -%}
      {%- for target, wanted in mapping.items() -%}
        {%- if target not in contract_names[entity] -%}
          {{ settings_error('column_map', "column_map." ~ entity ~ "." ~ target ~ ": '" ~ target ~ "' is not a column of the " ~ entity ~ " contract (did you mean '" ~ nearest_name(target, contract_names[entity]) ~ "'?)",
              "map onto one of " ~ (contract_names[entity] | join(', '))) }}
        {%- endif -%}
        {%- if source_column(entity, target, columns).sql == 'null' -%}
          {{ settings_error('column_map', "column_map." ~ entity ~ "." ~ target ~ " names column '" ~ wanted ~ "', which " ~ (source.files | join(', ')) ~ " lacks (found: " ~ (names | join(', ')) ~ ")",
              "use one of the columns found (nearest: '" ~ nearest_name(wanted, names) ~ "'), or a SQL expression over them") }}
        {%- endif -%}
      {%- endfor -%}
      {%- set missing = [] -%}
      {%- for name in files_input_spec()[entity].required -%}
        {%- if source_column(entity, name, columns).sql == 'null' -%}{%- do missing.append(name) -%}{%- endif -%}
      {%- endfor -%}
      {%- if missing -%}
        {{ input_error("input " ~ (source.files | join(', ')) ~ " lacks required column(s) " ~ (missing | join(', ')) ~ " (found: " ~ (names | join(', ')) ~ ")",
            "rename them in the file, or map them, e.g. --vars '{column_map: {" ~ entity ~ ": {" ~ missing[0] ~ ": " ~ nearest_name(missing[0], names) ~ "}}}'") }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return('select 1 as inputs_ok') }}
{% endmacro %}


{#- ---- Incremental loading of a folder of parts (docs/DESIGN.md "The input layer").

    An input given as a folder of parts (transactions/2026-11-30.parquet, ...) is read
    into its table staging.raw_files__<entity> (files_raw) exactly as the reader
    returns it (CSV as text), one build's new parts appended to the parts loaded
    before; base_files__<entity> types and validates from that table, never from the
    old parts' files. A part is known by its file name, size and modification time
    (read from the file system, not from the content: a content hash would have to
    read every old part at every build). One row per part (_row_kind 'part') is the
    ledger (loaded_input_parts): size, modification time, an independent count of its
    raw records, the build that read it. A part whose size or modification time
    changed is re-read (its old rows deleted first); a loaded part that is gone stops
    the build (restore it, or rebuild the input from the parts present with
    --full-refresh). The table is carried across publishing (publish_carried_tables). -#}

{#- The ledger and unparsed-line columns of a raw_files__<entity> table, with their types. -#}
{% macro files_raw_bookkeeping_types() %}
  {{ return([('_part_size', 'bigint'), ('_part_modified', 'timestamp'), ('_part_raw_records', 'bigint'),
             ('_loaded_by', 'varchar'), ('_loaded_at', 'timestamp'),
             ('_line_number', 'bigint'), ('_unparsed_reason', 'varchar'), ('_unparsed_line', 'varchar')]) }}
{% endmacro %}


{#- Bookkeeping columns of a raw_files__<entity> table (not the input's own). -#}
{% macro files_raw_internal_columns() %}
  {{ return(['_row_kind'] + files_raw_bookkeeping_types() | map(attribute=0) | list) }}
{% endmacro %}


{#- The select list of the bookkeeping columns, typed: those named in `filled` from the
    column of that name, the others null. -#}
{% macro files_raw_bookkeeping_columns(filled) -%}
  {%- for name, type in files_raw_bookkeeping_types() %}
        cast({{ name if name in filled else 'null' }} as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
  {%- endfor %}
{%- endmacro %}


{#- The raw_files__<entity> table as it stands in the build database (left by the
    previous build, or built earlier in this invocation), or none. -#}
{% macro files_loaded_relation(entity) %}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == 'raw_files__' ~ entity -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias or node.name)) }}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}


{#- Each part of `files` and each part loaded into `loaded` (none: nothing loaded)
    as {file, state}: new, loaded (same size and modification time), changed, or
    missing (loaded but no longer in the folder). From the file system's listing:
    no part is read. -#}
{% macro files_part_states(files, loaded) %}
  {%- set quoted = [] -%}
  {%- for f in files -%}{%- do quoted.append(sql_string(f)) -%}{%- endfor -%}
  {%- set listing = "(select filename as file, size, epoch_us(last_modified) as modified_us from read_blob([" ~ (quoted | join(', ')) ~ "]))" if quoted
        else "(select null::varchar as file, null::bigint as size, null::bigint as modified_us where false)" -%}
  {%- if loaded is none -%}
    {%- set sql = "select file, 'new' as state from " ~ listing ~ " order by file" -%}
  {%- else -%}
    {%- set sql -%}
    select coalesce(parts.file, done.file) as file,
           case when done.file is null then 'new'
                when parts.file is null then 'missing'
                when parts.size = done.size and parts.modified_us = done.modified_us then 'loaded'
                else 'changed' end as state
    from {{ listing }} as parts
    full join (select _source_file as file, _part_size as size, epoch_us(_part_modified) as modified_us
               from {{ loaded }} where _row_kind = 'part') as done
      on parts.file = done.file
    order by 1
    {%- endset -%}
  {%- endif -%}
  {%- set states = [] -%}
  {%- for row in run_query(sql).rows -%}{%- do states.append({'file': row[0], 'state': row[1]}) -%}{%- endfor -%}
  {{ return(states) }}
{% endmacro %}


{#- What this build loads of a folder input: {parts: every part, read: the parts to
    read (new or changed), changed: the changed ones, unchanged: count}. Stops when a
    loaded part is gone. `loaded` is the raw_files table (none on a first load). -#}
{% macro files_load_plan(entity, source, loaded) %}
  {%- set plan = {'read': [], 'changed': [], 'missing': [], 'unchanged': 0} -%}
  {%- for part in files_part_states(source.files, loaded) -%}
    {%- if part.state in ('new', 'changed') -%}{%- do plan.read.append(part.file) -%}{%- endif -%}
    {%- if part.state == 'changed' -%}{%- do plan.changed.append(part.file) -%}{%- endif -%}
    {%- if part.state == 'missing' -%}{%- do plan.missing.append(part.file) -%}{%- endif -%}
    {%- if part.state == 'loaded' -%}{%- do plan.update({'unchanged': plan.unchanged + 1}) -%}{%- endif -%}
  {%- endfor -%}
  {%- if plan.missing -%}
    {{ input_error("input '" ~ entity ~ "': " ~ (plan.missing | length) ~ " part(s) loaded by an earlier build are gone from " ~ input_dir() ~ "/" ~ entity ~ "/ ("
        ~ (plan.missing[:5] | join(', ')) ~ (', ...' if plan.missing | length > 5 else '') ~ "); their rows are still in " ~ loaded,
        "put the part(s) back (loaded parts must stay in the folder), or rebuild the input from the parts present: dbt build --full-refresh") }}
  {%- endif -%}
  {{ return(plan) }}
{% endmacro %}


{#- The raw_files__<entity> model: a folder input's raw rows, appended per new part
    (see above); an empty table when the input is not a folder of parts (single
    files and tables are read directly by base_files__<entity>, as before).
    A load cache of the build database, not published (meta published: false) and not
    carried: it is a function of the parts in the folder, and every build keeps it
    consistent with them (a part's rows, its unparsed lines and its ledger row are
    written, and a changed part's old rows deleted, in the model's one transaction),
    so a failed build's load is as good as any; without a build database every part
    is read again. -#}
{% macro files_raw(entity) %}
  {#- in the load cache file beside the build database (attached as segments_load_cache by
      the segkit.publish plugin), so the build database holds only what is published -#}
  {{- config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
             database='segments_load_cache', meta={'published': false},
             pre_hook=["{{ files_forget_rejects('" ~ entity ~ "') }}", "{{ files_raw_forget('" ~ entity ~ "') }}"],
             post_hook="{{ files_raw_unparsed('" ~ entity ~ "') }}") -}}
  {%- set source = input_source(entity) if execute else {'kind': none, 'files': []} -%}
  {%- set read = [] -%}
  {%- if execute and source.get('folder') -%}
    {%- set plan = files_load_plan(entity, source, this if is_incremental() else none) -%}
    {%- do read.extend(plan.read) -%}
    {%- do log("input '" ~ entity ~ "' (" ~ input_dir() ~ "/" ~ entity ~ "/): " ~ plan.unchanged ~ " part(s) already loaded, "
               ~ (plan.read | length - plan.changed | length) ~ " new" ~ ((", " ~ (plan.changed | length) ~ " changed and re-read (" ~ (plan.changed[:5] | join(', ')) ~ ")") if plan.changed else ""), info=true) -%}
  {%- endif -%}
  {%- set parts = {'kind': source.kind, 'files': read} -%}
  {%- set quoted = [] -%}
  {%- for f in read -%}{%- do quoted.append(sql_string(f)) -%}{%- endfor -%}
  {%- if read and is_incremental() and source.kind == 'parquet' -%}
    {#- a column typed differently in a new part would be cast into the loaded type
        (maybe rounded): stop instead -#}
    {%- set have = {} -%}
    {%- for col in adapter.get_columns_in_relation(this) -%}{%- do have.update({col.name | lower: col.dtype | upper}) -%}{%- endfor -%}
    {%- for name, type in input_columns(parts) if name | lower in have and have[name | lower] != type -%}
      {{ input_error("input '" ~ entity ~ "': column " ~ name ~ " is " ~ type ~ " in the new part(s) " ~ (read | join(', ')) ~ " but " ~ have[name | lower] ~ " in the parts already loaded",
          "write every part with the same column types, or rebuild the input from all its parts: dbt build --full-refresh") }}
    {%- endfor -%}
  {%- endif %}

with

{%- if read %}

records as (
    {%- if source.kind == 'csv' %}
    {#- one scan per part, unioned by name: DuckDB's CSV reader cannot store rejects
        with union_by_name; the scans share one rejects table -#}
    {%- for f in read %}
    select *, 'row' as _row_kind
    from {{ read_input({'kind': 'csv', 'files': [f]}, rejects='segkit_rejects_' ~ entity) }}
    {{ 'union all by name' if not loop.last }}
    {%- endfor %}
    {%- else %}
    select *, 'row' as _row_kind
    from {{ read_input(parts) }}
    {%- endif %}
),

-- an independent count of each part's raw records (as input_reconciliation counts them)
counts as (
    {%- if source.kind == 'parquet' %}
    select file_name as file, sum(num_rows) as raw_records
    from parquet_file_metadata([{{ quoted | join(', ') }}])
    group by file_name
    {%- else %}
    select filename as file, count(*) filter (where line is not null) - 1 as raw_records
    from read_csv([{{ quoted | join(', ') }}], header = false, columns = {'line': 'varchar'}, delim = chr(31), quote = '',
                  escape = '', comment = '', auto_detect = false, strict_mode = false, filename = true)
    group by filename
    {%- endif %}
),

parts as (

    select
        blobs.filename                                     as _source_file,
        'part'                                             as _row_kind,
        blobs.size                                         as _part_size,
        make_timestamp(epoch_us(blobs.last_modified))      as _part_modified,
        cast(greatest(coalesce(counts.raw_records, 0), 0) as bigint) as _part_raw_records,
        '{{ invocation_id }}'                              as _loaded_by,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as _loaded_at
    from read_blob([{{ quoted | join(', ') }}]) as blobs
    left join counts on counts.file = blobs.filename

),

final as (

    {%- set filled = ['_part_size', '_part_modified', '_part_raw_records', '_loaded_by', '_loaded_at'] %}
    select
        * exclude ({{ filled | join(', ') }}),
        {{- files_raw_bookkeeping_columns(filled) }}
    from (select * from records union all by name select * from parts)

)
{%- else %}

final as (

    select
        cast(null as varchar)   as _source_file,
        cast(null as varchar)   as _row_kind,
        {{- files_raw_bookkeeping_columns([]) }}
    where false

)
{%- endif %}

select * from final
{% endmacro %}


{#- Pre-hook of raw_files__<entity>: delete the rows of the parts about to be re-read
    (changed since they were loaded); every row when the input is no longer a folder
    of parts. -#}
{% macro files_raw_forget(entity) %}
  {%- if not execute or not is_incremental() -%}{{ return('select 1') }}{%- endif -%}
  {%- set source = input_source(entity) -%}
  {%- if not source.get('folder') -%}
    {{ return('delete from ' ~ this) }}
  {%- endif -%}
  {%- set plan = files_load_plan(entity, source, this) -%}
  {%- if not plan.changed -%}{{ return('select 1') }}{%- endif -%}
  {%- set quoted = [] -%}
  {%- for f in plan.changed -%}{%- do quoted.append(sql_string(f)) -%}{%- endfor -%}
  {{ return('delete from ' ~ this ~ ' where _source_file in (' ~ (quoted | join(', ')) ~ ')') }}
{% endmacro %}


{#- Post-hook of raw_files__<entity>: the lines the CSV reader could not split in the
    parts just read (its rejects tables, temporary tables of this connection written
    by the model's scan), one row per line with the reason, as base_files__ reports
    them. -#}
{% macro files_raw_unparsed(entity) %}
  {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
  {%- set found = run_query("select count(*) from duckdb_tables() where temporary and table_name in ('segkit_rejects_" ~ entity ~ "_errors', 'segkit_rejects_" ~ entity ~ "_scans')").rows[0][0] -%}
  {%- if found < 2 -%}{{ return('select 1') }}{%- endif -%}
  {%- set sql -%}
insert into {{ this }} (_source_file, _row_kind, _line_number, _unparsed_reason, _unparsed_line)
select
    scans.file_path,
    'unparsed',
    errors.line,
    'line could not be read: ' || string_agg(distinct cast(errors.error_type as varchar) || ' (' || errors.error_message || ')', '; ' order by cast(errors.error_type as varchar) || ' (' || errors.error_message || ')'),
    any_value(errors.csv_line)
from segkit_rejects_{{ entity }}_errors as errors
join segkit_rejects_{{ entity }}_scans as scans using (scan_id, file_id)
group by scans.file_path, errors.line
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}


{#- An independent count of a folder input's raw records from the ledger (each part
    counted once, when it was loaded), as a scalar SQL expression; none when the
    input is not a folder of parts. For raw_record_count (macros/contract.sql). -#}
{% macro loaded_raw_record_count(entity) %}
  {%- set loaded = ref('raw_files__' ~ entity) -%}
  {%- set source = input_source(entity) if execute else {} -%}
  {%- if not source.get('folder') -%}{{ return(none) }}{%- endif -%}
  {{ return('(select coalesce(sum(_part_raw_records), 0) from ' ~ loaded ~ " where _row_kind = 'part')") }}
{% endmacro %}
