{#- The canonical data contract (docs/DESIGN.md, intermediate layer).
    Every dataset adapter's staging model exposes these names; a column a dataset
    does not have is filled with a typed null by select_contract(). -#}
{% macro contract() %}
{{ return({
  'customers': [
    ('customer_id', 'varchar'), ('signed_up_at', 'timestamp'),
    ('country', 'varchar'), ('region', 'varchar'), ('age_group', 'varchar'),
    ('gender', 'varchar'), ('occupation', 'varchar'), ('referral_channel', 'varchar'),
    ('is_senior_citizen', 'boolean'), ('has_partner', 'boolean'), ('has_dependents', 'boolean'),
    ('has_multiple_lines', 'boolean'), ('has_tech_support', 'boolean'),
    ('call_duration', 'decimal(18,2)'), ('data_usage', 'decimal(18,2)')
  ],
  'transactions': [
    ('transaction_id', 'varchar'), ('customer_id', 'varchar'), ('transacted_at', 'timestamp'),
    ('amount', 'decimal(18,2)'), ('order_id', 'varchar'), ('product_id', 'varchar'), ('product_category', 'varchar'),
    ('creator_id', 'varchar'), ('channel', 'varchar'), ('quantity', 'integer')
  ],
  'events': [
    ('customer_id', 'varchar'), ('event_at', 'timestamp'), ('event_name', 'varchar'),
    ('object_id', 'varchar'), ('value', 'double'), ('properties', 'varchar')
  ],
  'subscriptions': [
    ('subscription_id', 'varchar'), ('customer_id', 'varchar'), ('plan_level', 'varchar'),
    ('plan_type', 'varchar'), ('monthly_amount', 'decimal(18,2)'),
    ('started_at', 'timestamp'), ('ended_at', 'timestamp'), ('end_reason', 'varchar'),
    ('is_churned', 'boolean'), ('tenure_months', 'integer'),
    ('billed_amount', 'decimal(18,2)')
  ]
}) }}
{% endmacro %}


{#- THE list of datasets (README "Adding a dataset"): everything else that needs
    the datasets (which staging folder and seeds are enabled, the validation of
    var('dataset'), `make test`'s builds, tests/python/test_datasets_registry.py)
    reads it. Per dataset: which staging model feeds each canonical entity, which
    staging models hold the rows the dataset rejected, and its raw inputs (for
    input_reconciliation). An entity a dataset lacks is simply absent: its int_
    model is then an empty typed relation. Optional keys: 'adapter', the folder
    models/staging/<adapter>/ holding its staging models (default: the dataset's
    name; seeds/<adapter>/ holds its seeds, if any), and 'bundled' (default true):
    false when the dataset has no data in the project (files), so `make test` does
    not build it. -#}
{% macro dataset_registry() %}
{{ return({
  'nexa_sat': {
    'entities': {
      'customers': 'stg_nexa_sat__subscribers',
      'subscriptions': 'stg_nexa_sat__subscribers'
    },
    'quarantine': ['stg_nexa_sat__subscribers_rejected'],
    'inputs': [
      {'source_table': 'nexa_sat_subscribers', 'raw': 'nexa_sat_subscribers', 'key': 'Customer_ID',
       'used': 'stg_nexa_sat__subscribers', 'rejected': 'stg_nexa_sat__subscribers_rejected'}
    ]
  },
  'classplus': {
    'entities': {
      'customers': 'stg_classplus__creators',
      'transactions': 'stg_classplus__gmv',
      'events': 'stg_classplus__videos'
    },
    'quarantine': ['stg_classplus__org_months_rejected'],
    'inputs': [
      {'source_table': 'classplus_org_month', 'raw': 'classplus_org_month', 'key': none,
       'used': 'stg_classplus__org_months', 'rejected': 'stg_classplus__org_months_rejected'}
    ]
  },
  'lita': {
    'entities': {
      'customers': 'stg_lita__customers',
      'subscriptions': 'stg_lita__subscriptions'
    },
    'quarantine': ['stg_lita__subscriptions_rejected'],
    'inputs': [
      {'source_table': 'lita_subscriptions', 'raw': 'lita_subscriptions', 'key': none,
       'used': 'stg_lita__subscriptions', 'rejected': 'stg_lita__subscriptions_rejected'}
    ]
  },
  'cdnow': {
    'entities': {
      'customers': 'stg_cdnow__customers',
      'transactions': 'stg_cdnow__transactions'
    },
    'quarantine': ['stg_cdnow__transactions_rejected'],
    'inputs': [
      {'source_table': 'cdnow_transactions', 'raw': 'cdnow_transactions', 'key': 'line_number',
       'used': 'stg_cdnow__transactions', 'rejected': 'stg_cdnow__transactions_rejected'}
    ]
  },
  'donations': {
    'entities': {
      'customers': 'stg_donations__customers',
      'transactions': 'stg_donations__transactions'
    },
    'quarantine': ['stg_donations__summary_rejected'],
    'inputs': [
      {'source_table': 'donations_summary', 'raw': 'donations_summary', 'key': none,
       'used': 'stg_donations__summary', 'rejected': 'stg_donations__summary_rejected'}
    ]
  },
  'fader_hardie_2007': {
    'entities': {
      'customers': 'stg_fader_hardie_2007__customers',
      'subscriptions': 'stg_fader_hardie_2007__subscriptions'
    },
    'quarantine': ['stg_fader_hardie_2007__survivors_rejected'],
    'inputs': [
      {'source_table': 'fader_hardie_2007_survivors', 'raw': 'fader_hardie_2007_survivors', 'key': none,
       'used': 'stg_fader_hardie_2007__survivors', 'rejected': 'stg_fader_hardie_2007__survivors_rejected'}
    ]
  },
  'files': files_registry_entry(bundled=false),
  'demo': files_registry_entry()
}) }}
{% endmacro %}


{#- `files` (the user's own folder) and `demo` (the bundled generated business,
    data/demo) share one adapter: models/staging/files. -#}
{% macro files_registry_entry(bundled=true) %}
  {%- set entry = {'adapter': 'files', 'bundled': bundled, 'entities': {}, 'quarantine': [], 'inputs': []} -%}
  {%- for entity, spec in files_input_spec().items() -%}
    {%- do entry['entities'].update({entity: 'stg_files__' ~ entity}) -%}
    {%- do entry['quarantine'].append('stg_files__' ~ entity ~ '_rejected') -%}
    {%- do entry['inputs'].append({'source_table': entity, 'file_entity': entity,
        'key': (setting('column_map') or {}).get(entity, {}).get(spec.key, spec.key) if spec.key else none,
        'base': 'base_files__' ~ entity,
        'used': 'stg_files__' ~ entity, 'rejected': 'stg_files__' ~ entity ~ '_rejected'}) -%}
  {%- endfor -%}
  {{ return(entry) }}
{% endmacro %}


{#- A FROM-clause relation over an input's raw rows (seed, override file or
    input file); an empty relation when a files input is absent. -#}
{% macro input_relation(input) %}
  {%- if input.get('raw') -%}
    {{ return(raw_relation(input.raw)) }}
  {%- endif -%}
  {%- set source = input_source(input.file_entity) -%}
  {%- if source.kind is none -%}
    {{ return('(select null as no_input where false)') }}
  {%- endif -%}
  {{ return('(select * exclude (_source_file) from ' ~ read_input(source) ~ ')') }}
{% endmacro %}


{#- An independent count of an input's raw records, as a scalar SQL expression:
    for CSV the file's non-blank lines after the header, read as plain lines (no
    delimiter, no quoting); for Parquet the row counts in the files' metadata; for
    a seed or table its count(*). -#}
{% macro raw_record_count(input) %}
  {%- if input.get('raw') -%}
    {{ return('(select count(*) from ' ~ raw_relation(input.raw) ~ ')') }}
  {%- endif -%}
  {%- set source = input_source(input.file_entity) -%}
  {%- if source.kind is none -%}{{ return('0') }}{%- endif -%}
  {%- set files = [] -%}
  {%- for f in source.files -%}{%- do files.append(sql_string(f)) -%}{%- endfor -%}
  {%- if source.kind == 'parquet' -%}
    {{ return('(select coalesce(sum(num_rows), 0) from parquet_file_metadata([' ~ (files | join(', ')) ~ ']))') }}
  {%- elif source.kind == 'csv' -%}
    {{ return("(select count(*) filter (where line is not null) - count(distinct filename) from read_csv([" ~ (files | join(', ')) ~ "], "
        ~ "header = false, columns = {'line': 'varchar'}, delim = chr(31), quote = '', escape = '', comment = '', "
        ~ "auto_detect = false, strict_mode = false, filename = true))") }}
  {%- endif -%}
  {{ return('(select count(*) from ' ~ source.files[0] ~ ')') }}
{% endmacro %}


{#- The registered dataset names, sorted. -#}
{% macro dataset_names() %}
  {{ return(dataset_registry().keys() | list | sort) }}
{% endmacro %}


{#- The staging folder (models/staging/<adapter>/) and seed folder of a dataset. -#}
{% macro dataset_adapter(name) %}
  {{ return(dataset_registry()[name].get('adapter', name)) }}
{% endmacro %}


{#- The message an unregistered dataset name stops the build with. -#}
{% macro unknown_dataset_message(name) %}
  {%- set names = dataset_names() -%}
  {{ return("'" ~ name ~ "' is not a registered dataset (dataset_registry() in macros/contract.sql): "
      ~ "did you mean '" ~ closest_setting_name(name, names) ~ "'? The registered datasets are "
      ~ (names | join(', '))) }}
{% endmacro %}


{% macro current_dataset() %}
  {%- set ds = var('dataset') -%}
  {%- set registry = dataset_registry() -%}
  {%- if ds not in registry -%}
    {#- the same stop as validate_settings() in on-run-start; raised here when a
        model needs the registry entry while dbt parses the project -#}
    {{ settings_error('dataset', unknown_dataset_message(ds),
        "e.g. --vars '{dataset: nexa_sat}', or register it (README \"Adding a dataset\")") }}
  {%- endif -%}
  {{ return(registry[ds]) }}
{% endmacro %}


{#- config(enabled=...) of every staging model: true when the model's folder,
    models/staging/<folder>/, is the adapter of the selected dataset. Only the
    selected dataset's adapter is parsed into the build; no folder is listed
    anywhere else. -#}
{% macro dataset_adapter_enabled() %}
  {%- set ds = var('dataset', 'demo') -%}
  {%- if ds not in dataset_registry() -%}{{ return(false) }}{%- endif -%}
  {{ return(model.fqn[-2] == dataset_adapter(ds)) }}
{% endmacro %}


{#- dbt run-operation list_datasets: the registry as one JSON line
    {name: {adapter, bundled}}; --args '{names: true}' prints the names of the
    bundled datasets instead, one line, space-separated (the Makefile's `make test`
    loop, `make datasets`). -#}
{% macro list_datasets(names=false) %}
  {%- set out = {} -%}
  {%- for name in dataset_names() -%}
    {%- do out.update({name: {'adapter': dataset_adapter(name), 'bundled': dataset_registry()[name].get('bundled', true)}}) -%}
  {%- endfor -%}
  {%- if names -%}
    {%- set bundled = [] -%}
    {%- for name, entry in out.items() if entry.bundled -%}{%- do bundled.append(name) -%}{%- endfor -%}
    {{ print(bundled | join(' ')) }}
  {%- else -%}
    {{ print(tojson(out)) }}
  {%- endif -%}
{% endmacro %}


{#- select <contract columns> from the dataset's staging model for `entity`,
    typed, with nulls for columns the dataset does not provide; or an empty
    typed relation when the dataset has no such entity. -#}
{% macro select_contract(entity) %}
  {%- set ds = current_dataset() -%}
  {%- set columns = contract()[entity] -%}
  {%- set model_name = ds['entities'].get(entity) -%}
  {%- if model_name is none -%}
    {%- do log("dataset '" ~ var('dataset') ~ "' has no " ~ entity ~ ": int_" ~ entity ~ " is empty and the marts built on it will be empty.", info=(execute and model.name == 'int_' ~ entity)) -%}
    select
    {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
  {%- else -%}
    {%- set relation = ref(model_name) -%}
    {%- set available = [] -%}
    {%- if execute -%}
      {%- for col in adapter.get_columns_in_relation(relation) -%}
        {%- do available.append(col.name | lower) -%}
      {%- endfor -%}
    {%- endif -%}
    select
    {%- for name, type in columns %}
        {% if name in available -%}
        cast({{ adapter.quote(name) }} as {{ type }})
        {%- else -%}
        cast(null as {{ type }})
        {%- endif %} as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
  {%- endif -%}
{% endmacro %}
