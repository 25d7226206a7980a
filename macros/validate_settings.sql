{#- Runs on-run-start: a wrong var stops the build with a message naming the
    setting and the fix, before any model runs. -#}
{% macro settings_error(name, problem, fix) %}
  {{ exceptions.raise_compiler_error(
      "Invalid setting var('" ~ name ~ "'): " ~ problem ~ ". Fix: " ~ fix ~ ".") }}
{% endmacro %}

{% macro validate_settings() %}
  {%- set registry = dataset_registry() -%}
  {%- if var('dataset') not in registry -%}
    {{ settings_error('dataset', "'" ~ var('dataset') ~ "' is not a known dataset",
        "use one of " ~ (registry.keys() | list | sort | join(', '))) }}
  {%- endif -%}

  {%- set as_of = setting('as_of_date') -%}
  {%- if as_of is not none and not modules.re.match('^\d{4}-\d{2}-\d{2}$', as_of | string) -%}
    {{ settings_error('as_of_date', "'" ~ as_of ~ "' is not a date", "write it as YYYY-MM-DD, or leave it null for the latest date in the data") }}
  {%- endif -%}

  {%- if var('clv_population') not in ['active', 'all'] -%}
    {{ settings_error('clv_population', "'" ~ var('clv_population') ~ "' is not allowed", "use 'active' (not churned customers) or 'all'") }}
  {%- endif -%}

  {%- set _ = validate_clv_settings() -%}

  {%- set scale = var('clv_score_scale') -%}
  {%- if scale is not number or scale < 0 or scale > 6 -%}
    {{ settings_error('clv_score_scale', "'" ~ scale ~ "' is not an integer from 0 to 6", "set the number of decimals, e.g. 2") }}
  {%- endif -%}

  {%- set rules = var('clv_segments') -%}
  {%- if rules is string or rules is mapping or rules is not iterable or (rules | length) == 0 -%}
    {{ settings_error('clv_segments', "expected a non-empty list of {label, op, percentile}", "see dbt_project.yml for the default") }}
  {%- endif -%}
  {%- set ns = namespace(previous=1.0) -%}
  {%- for rule in rules -%}
    {%- if rule is not mapping or 'label' not in rule or 'percentile' not in rule -%}
      {{ settings_error('clv_segments', "rule " ~ loop.index ~ " lacks a label or a percentile", "write each rule as {label: High Value, op: '>', percentile: 0.85}") }}
    {%- endif -%}
    {%- if rule.get('op', '>=') not in ['>', '>='] -%}
      {{ settings_error('clv_segments', "rule '" ~ rule.label ~ "' has op '" ~ rule.op ~ "'", "op must be '>' or '>='") }}
    {%- endif -%}
    {%- if rule.percentile is not number or rule.percentile < 0 or rule.percentile > 1 -%}
      {{ settings_error('clv_segments', "rule '" ~ rule.label ~ "' has percentile " ~ rule.percentile, "percentiles are fractions between 0 and 1") }}
    {%- endif -%}
    {%- if rule.percentile > ns.previous -%}
      {{ settings_error('clv_segments', "rule '" ~ rule.label ~ "' (" ~ rule.percentile ~ ") is above the rule before it", "list rules from the highest percentile down") }}
    {%- endif -%}
    {%- set ns.previous = rule.percentile -%}
  {%- endfor -%}

  {%- set campaigns = var('campaigns') -%}
  {%- if campaigns is not mapping -%}
    {{ settings_error('campaigns', "expected a mapping campaign_name: SQL predicate", "see dbt_project.yml for the default") }}
  {%- endif -%}
  {%- for name, predicate in campaigns.items() -%}
    {%- if predicate is not string or (predicate | trim) == '' -%}
      {{ settings_error('campaigns', "campaign '" ~ name ~ "' has no SQL predicate", "write a condition such as \"plan_level = 'Basic'\"") }}
    {%- endif -%}
  {%- endfor -%}

  {%- set raw_files = var('raw_files', {}) or {} -%}
  {%- if raw_files is not mapping -%}
    {{ settings_error('raw_files', "expected a mapping seed_name: file path", "e.g. {nexa_sat_subscribers: /data/nexa.csv}") }}
  {%- endif -%}
  {%- set _ = validate_product_settings() -%}
  {%- set _ = validate_rfm_settings() -%}
  select 1 as settings_ok
{% endmacro %}
