{#- setting(name): the one accessor for a configuration var. Every model and
    macro reads configuration through it (var('dataset') alone stays a plain var:
    it selects the dataset).

    Precedence in a build: a var given on the command line (--vars) > the
    dataset's entry in var('dataset_settings') > the var's project default in
    dbt_project.yml, the only home of defaults. A name that dbt_project.yml does
    not declare is an error (declare the var there, with its default).

    Inside a dbt unit test: the unit test's own `overrides: vars` > the project
    default. The command line and dataset_settings are ignored there, so a unit
    test pins the logic it tests whatever a build passes (dbt's own var() would
    let a command-line var win over the unit test's fixture).

    `default` is accepted for old call sites and ignored: defaults live in
    dbt_project.yml only. -#}
{% macro setting(name, default=none) %}
  {%- if name == 'dataset' -%}
    {{ return(var('dataset')) }}
  {%- endif -%}
  {%- set defaults = project_settings() -%}
  {%- if name not in defaults -%}
    {{ exceptions.raise_compiler_error("setting('" ~ name ~ "'): no such var in dbt_project.yml. Fix: declare it under vars: in dbt_project.yml with its default"
        ~ (" (closest declared var: " ~ closest_setting_name(name) ~ ")" if defaults else "") ~ ".") }}
  {%- endif -%}
  {%- if in_unit_test() -%}
    {%- set pinned = model.get('overrides', {}).get('vars', {}) or {} -%}
    {%- set value = pinned[name] if name in pinned else defaults[name] -%}
  {%- elif name in cli_settings() or name == 'dataset_settings' -%}
    {%- set value = var(name) -%}
  {%- elif name in dataset_settings_entry() -%}
    {%- set value = dataset_settings_entry()[name] -%}
  {%- else -%}
    {%- set value = var(name) -%}
  {%- endif -%}
  {#- an unquoted YAML date (as_of_date: 2024-06-30) arrives as a date: as text -#}
  {%- if is_setting_list(value) -%}
    {%- set items = [] -%}
    {%- for item in value %}{% do items.append(setting_as_text_if_date(item)) %}{% endfor -%}
    {{ return(items) }}
  {%- endif -%}
  {{ return(setting_as_text_if_date(value)) }}
{% endmacro %}


{% macro setting_as_text_if_date(value) %}
  {{ return(value.isoformat() if (value is not none and value is not string and value is not number
      and value is not mapping and value.isoformat is defined) else value) }}
{% endmacro %}


{#- The project's vars with their defaults, {name: value}, in dbt_project.yml
    order (read from the loaded project: dbt Jinja cannot list vars otherwise).
    Vars scoped to this project (vars: {segment_warehouse: {...}}) are merged in. -#}
{% macro project_settings() %}
  {%- set declared = adapter.config.vars.to_dict() -%}
  {%- set merged = {} -%}
  {%- for key, value in declared.items() -%}
    {%- if key == project_name and value is mapping -%}
      {%- do merged.update(value) -%}
    {%- else -%}
      {%- do merged.update({key: value}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(merged) }}
{% endmacro %}


{#- The names of every var in dbt_project.yml, in file order. -#}
{% macro setting_names() %}
  {{ return(project_settings().keys() | list) }}
{% endmacro %}


{#- Vars given on the command line (--vars), {} when none. -#}
{% macro cli_settings() %}
  {%- set cli = adapter.config.cli_vars -%}
  {{ return(cli if cli is mapping else {}) }}
{% endmacro %}


{#- The resolved dataset's entry of var('dataset_settings'), {} when none. -#}
{% macro dataset_settings_entry() %}
  {%- set all = var('dataset_settings') or {} -%}
  {%- set entry = (all.get(var('dataset')) if all is mapping else none) or {} -%}
  {{ return(entry if entry is mapping else {}) }}
{% endmacro %}


{#- True while dbt renders a model for one of its unit tests. -#}
{% macro in_unit_test() %}
  {{ return(model is defined and model is mapping and model.get('resource_type') == 'unit_test') }}
{% endmacro %}


{#- The project default of a var (dbt_project.yml), for settings whose partial
    value is merged over the default (feature_event_names,
    clv_score_weights_by_source). -#}
{% macro setting_default(name) %}
  {%- set defaults = project_settings() -%}
  {%- if name not in defaults -%}
    {{ exceptions.raise_compiler_error("setting_default('" ~ name ~ "'): no such var in dbt_project.yml.") }}
  {%- endif -%}
  {{ return(defaults[name]) }}
{% endmacro %}
