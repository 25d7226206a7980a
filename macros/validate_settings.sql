{#- Runs on-run-start, before any model: every setting (the SQL marts' and the
    Python step's) is read through setting() and checked; a wrong value, or a var
    name dbt_project.yml does not declare, stops the build with a message naming
    the var and the fix. -#}
{% macro settings_error(name, problem, fix) %}
  {{ exceptions.raise_compiler_error(
      "Invalid setting var('" ~ name ~ "'): " ~ problem ~ ". Fix: " ~ fix ~ ".") }}
{% endmacro %}


{#- Levenshtein distance between two strings (insert, delete, substitute = 1). -#}
{% macro settings_edit_distance(a, b) %}
  {%- set ns = namespace(prev=range((b | length) + 1) | list) -%}
  {%- for i in range(1, (a | length) + 1) -%}
    {%- set current = [i] -%}
    {%- for j in range(1, (b | length) + 1) -%}
      {%- set cost = 0 if a[i - 1] == b[j - 1] else 1 -%}
      {%- do current.append([ns.prev[j] + 1, current[j - 1] + 1, ns.prev[j - 1] + cost] | min) -%}
    {%- endfor -%}
    {%- set ns.prev = current -%}
  {%- endfor -%}
  {{ return(ns.prev[-1]) }}
{% endmacro %}


{#- The candidate closest to `name` by edit distance (first in list order on
    ties); default candidates: the vars of dbt_project.yml. -#}
{% macro closest_setting_name(name, candidates=none) %}
  {%- set candidates = setting_names() if candidates is none else candidates -%}
  {%- set ns = namespace(best=none, distance=none) -%}
  {%- for candidate in candidates -%}
    {%- set d = settings_edit_distance(name | string, candidate | string) -%}
    {%- if ns.distance is none or d < ns.distance -%}
      {%- set ns.best = candidate -%}
      {%- set ns.distance = d -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.best) }}
{% endmacro %}


{#- Is `text` a real calendar date written YYYY-MM-DD? -#}
{% macro is_iso_date(text) %}
  {%- set match = modules.re.match('^(\d{4})-(\d{2})-(\d{2})$', text | string) -%}
  {%- if not match -%}{{ return(false) }}{%- endif -%}
  {%- set y, m, d = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
  {%- set leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 -%}
  {%- set month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
  {{ return(m >= 1 and m <= 12 and d >= 1 and d <= month_days[m - 1]) }}
{% endmacro %}


{% macro is_setting_list(value) %}
  {{ return(value is not none and value is not string and value is not mapping and value is iterable) }}
{% endmacro %}


{% macro is_setting_number(value) %}
  {{ return(value is number and value is not boolean) }}
{% endmacro %}


{% macro is_setting_integer(value) %}
  {{ return(value is number and value is not boolean and value == (value | int)) }}
{% endmacro %}


{#- Declarative checks of the plain settings: type (int, number, choice, text,
    names = list of distinct names, date, dates, mapping), bounds (min/max
    inclusive, gt/lt exclusive), whether null is allowed, and the fix to print.
    Settings with structure (clv_segments, campaigns, rfm_scoring, clv weights,
    funnel_*, product ones, feature_event_names, profile_dimensions) have their
    own validators below. -#}
{% macro settings_rules() %}
{{ return({
  'as_of_date': {'type': 'date', 'null': true, 'fix': "write it as YYYY-MM-DD (a real calendar date), or leave it null for the latest date in the data"},
  'input_dir': {'type': 'text', 'null': true, 'fix': "give the folder holding your files, e.g. --vars '{dataset: files, input_dir: /data/shop}'"},
  'column_map': {'type': 'mapping', 'null': true, 'fix': "map input -> {contract column: your column}, e.g. {transactions: {amount: order_total}}"},
  'raw_files': {'type': 'mapping', 'null': true, 'fix': "e.g. {nexa_sat_subscribers: /data/nexa.csv}"},
  'clv_population': {'type': 'choice', 'options': ['active', 'all'], 'fix': "use 'active' (not churned customers) or 'all'"},
  'clv_score_scale': {'type': 'int', 'min': 0, 'max': 6, 'fix': "set the number of decimals of clv_score, e.g. 2"},
  'clv_score_scaling': {'type': 'choice', 'options': ['rank', 'raw'], 'fix': "use rank (each feature as its percentile rank, 0..100, before weighting) or raw (the features' own values, the telecom study's formula)"},
  'premium_plan_level': {'type': 'text', 'fix': "give the plan_level counted as premium, e.g. Premium"},
  'clv_segment_floor_label': {'type': 'text', 'fix': "give the label of scores below every clv_segments rule, e.g. Churn Risk"},
  'upsell_segments': {'type': 'names', 'empty': true, 'fix': "list clv_segments labels, e.g. [High Value, Moderate Value]"},
  'backtest_rfm_segment_map': {'type': 'text', 'fix': "name a segment_map of the rfm_segment_map seed, e.g. standard"},
  'funnel_cohort_grain': {'type': 'choice', 'options': ['week', 'month'], 'fix': "use week (ISO weeks, from Monday) or month"},
  'cluster_input': {'type': 'choice', 'options': ['customer_features', 'customer_monthly_matrix'], 'fix': "use customer_features, or customer_monthly_matrix (creator study)"},
  'cluster_methods': {'type': 'names', 'empty': true, 'options': ['kmeans', 'dbscan'], 'fix': "list methods among kmeans, dbscan, e.g. [kmeans, dbscan] ([] = no clustering)"},
  'cluster_features': {'type': 'names', 'fix': "list columns of the cluster_input table (shell patterns such as 'revenue_m*' allowed), e.g. [total_spend, orders]"},
  'cluster_log_features': {'type': 'names', 'empty': true, 'fix': "list features to log1p before scaling, each among cluster_features, or []"},
  'cluster_scaling': {'type': 'choice', 'options': ['zscore', 'robust', 'none'], 'fix': "use zscore (population std), robust or none"},
  'cluster_value_column': {'type': 'text', 'fix': "name the column whose mean orders clusters into value tiers, e.g. total_spend"},
  'cluster_k': {'type': 'int', 'min': 2, 'null': true, 'fix': "set a number of clusters of at least 2, or null to choose k by silhouette"},
  'cluster_k_min': {'type': 'int', 'min': 2, 'fix': "the smallest k searched, at least 2 (e.g. 2)"},
  'cluster_k_max': {'type': 'int', 'min': 2, 'fix': "the largest k searched, at least cluster_k_min (e.g. 8)"},
  'cluster_dbscan_eps': {'type': 'number', 'gt': 0, 'null': true, 'fix': "set a positive radius in scaled units, or null for the knee of the k-distance curve"},
  'cluster_dbscan_min_samples': {'type': 'int', 'min': 1, 'fix': "a whole number of at least 1, e.g. 5"},
  'cluster_dbscan_max_fit_size': {'type': 'int', 'min': 1, 'null': true, 'fix': "a whole number of rows of at least 1, e.g. 50000"},
  'cluster_kmeans_max_fit_size': {'type': 'int', 'min': 1, 'null': true, 'fix': "a whole number of rows of at least 1, e.g. 200000"},
  'cluster_tier_names': {'type': 'names', 'fix': "list tier names from the highest value down, e.g. [High, Medium, Low]"},
  'cluster_random_state': {'type': 'int', 'min': 0, 'max': 4294967295, 'fix': "a whole number from 0 to 2**32 - 1, e.g. 42"},
  'monthly_matrix_months': {'type': 'int', 'min': 1, 'max': 120, 'fix': "a whole number of months from 1 to 120, e.g. 12"},
  'monthly_matrix_activity_events': {'type': 'names', 'null': true, 'fix': "list event names that count as activity, e.g. [video_published], or null for all events"},
  'clv_forecast_horizon_months': {'type': 'int', 'min': 1, 'fix': "a whole number of months of at least 1, e.g. 12"},
  'clv_forecast_monthly_discount_rate': {'type': 'number', 'min': 0, 'lt': 1, 'fix': "a monthly rate from 0 up to (not including) 1, e.g. 0.01"},
  'clv_forecast_days_per_month': {'type': 'number', 'gt': 0, 'fix': "a positive number of days, e.g. 30"},
  'clv_forecast_penalizer': {'type': 'number', 'min': 0, 'fix': "a penalizer of at least 0, e.g. 0.0"},
  'sbg_period': {'type': 'choice', 'options': ['month', 'quarter', 'year'], 'fix': "use month, quarter or year (the period one renewal covers)"},
  'sbg_calibration_end': {'type': 'date', 'null': true, 'fix': "write it as YYYY-MM-DD, at most the as-of date, or leave it null to calibrate on everything known at the as-of date"},
  'sbg_segmentation': {'type': 'choice', 'options': ['plan_level', 'pooled'], 'fix': "use plan_level (one sBG per plan level and the pooled one) or pooled"},
  'sbg_annual_discount_rate': {'type': 'number', 'gt': 0, 'lt': 1, 'fix': "a yearly rate above 0 and below 1, e.g. 0.1"},
  'bgbb_period': {'type': 'choice', 'options': ['year', 'month', 'week'], 'fix': "use year, month or week (the BG/BB transaction opportunity)"},
  'bgbb_forecast_periods': {'type': 'int', 'min': 1, 'fix': "a whole number of opportunities of at least 1, e.g. 5"},
  'clv_forecast_model': {'type': 'choice', 'options': ['bg_nbd', 'pareto_nbd', 'mbg_nbd', 'auto'], 'fix': "use bg_nbd, pareto_nbd, mbg_nbd, or auto (the lowest holdout error in clv_model_comparison)"},
  'model_refit': {'type': 'choice', 'options': ['always', 'on_drift'], 'fix': "use always (refit every build) or on_drift (reuse the last recorded fit unless its input drifted beyond model_drift_threshold)"},
  'model_drift_threshold': {'type': 'number', 'gt': 0, 'fix': "a positive population stability index, e.g. 0.2 (0.1-0.25 is the usual range)"},
  'clv_calibration_end': {'type': 'date', 'null': true, 'fix': "write it as YYYY-MM-DD (a date before the as-of date), or leave it null for the as-of date minus the forecast horizon"},
  'churn_mode': {'type': 'choice', 'options': ['temporal', 'snapshot'], 'fix': "use temporal (learn from the window before the as-of date) or snapshot (one row per customer, scored out-of-fold)"},
  'churn_horizon_days': {'type': 'int', 'min': 1, 'fix': "a whole number of days of at least 1, e.g. 90"},
  'churn_features': {'type': 'names', 'null': true, 'fix': "list columns of churn_model_input, or null for all of them"},
  'tier_change_features': {'type': 'names', 'null': true, 'fix': "list columns of churn_model_input, or null for all of them"},
  'churn_model': {'type': 'choice', 'options': ['gradient_boosting', 'logistic'], 'fix': "use gradient_boosting or logistic"},
  'churn_cv_folds': {'type': 'int', 'min': 2, 'fix': "a whole number of folds of at least 2, e.g. 5"},
  'churn_max_train_rows': {'type': 'int', 'min': 10, 'fix': "a whole number of rows of at least 10, e.g. 100000"},
  'churn_importance_rows': {'type': 'int', 'min': 10, 'fix': "a whole number of rows of at least 10, e.g. 5000"},
  'churn_random_state': {'type': 'int', 'min': 0, 'max': 4294967295, 'fix': "a whole number from 0 to 2**32 - 1, e.g. 42"},
  'tier_plan_order': {'type': 'names', 'fix': "list plan levels from the lowest up, e.g. [Basic, Standard, Premium]"},
  'backtest_window_days': {'type': 'int', 'min': 1, 'fix': "a whole number of days of at least 1, e.g. 91"},
  'backtest_cutoffs': {'type': 'dates', 'null': true, 'fix': "list cutoff dates YYYY-MM-DD in increasing order, e.g. ['1997-06-30', '1997-09-30'], or null for backtest_cutoff_count cutoffs"},
  'backtest_cutoff_count': {'type': 'int', 'min': 1, 'fix': "a whole number of cutoffs of at least 1, e.g. 3"},
  'backtest_top_share': {'type': 'number', 'gt': 0, 'lt': 1, 'fix': "a fraction strictly between 0 and 1, e.g. 0.10"},
  'backtest_rfm_high_segments': {'type': 'names', 'fix': "list RFM segments counted as High, e.g. [Champions, Loyal]"},
  'backtest_kmeans_k': {'type': 'int', 'min': 2, 'null': true, 'fix': "a number of clusters of at least 2, or null to choose k by silhouette"},
  'top_share_fraction': {'type': 'number', 'gt': 0, 'lt': 1, 'fix': "a fraction strictly between 0 and 1, e.g. 0.2"},
  'segment_migration_pair': {'type': 'dates', 'null': true, 'fix': "give two as-of dates of segment_history, earlier first, e.g. ['2024-06-30', '2024-12-31'], or null for consecutive pairs only"},
  'segment_downgrade_valuable_segments': {'type': 'names', 'fix': "list RFM segments (rfm_segment_map seed) counted as valuable, e.g. [Champions, Loyal]"},
  'segment_downgrade_at_risk_segments': {'type': 'names', 'fix': "list RFM segments (rfm_segment_map seed) counted as at risk, e.g. [At Risk, Can't Lose Them]"}
}) }}
{% endmacro %}


{% macro check_setting_rule(name, value, rule) %}
  {%- set kind = rule['type'] -%}
  {%- set fix = rule['fix'] -%}
  {%- if value is none -%}
    {%- if not rule.get('null', false) -%}
      {{ settings_error(name, "it is null", fix) }}
    {%- endif -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if kind in ['int', 'number'] -%}
    {%- if not is_setting_number(value) or (kind == 'int' and not is_setting_integer(value)) -%}
      {{ settings_error(name, "'" ~ value ~ "' is not " ~ ("a whole number" if kind == 'int' else "a number"), fix) }}
    {%- endif -%}
    {%- if ('min' in rule and value < rule['min']) or ('max' in rule and value > rule['max'])
           or ('gt' in rule and value <= rule['gt']) or ('lt' in rule and value >= rule['lt']) -%}
      {%- set bounds = [] -%}
      {%- if 'min' in rule %}{% do bounds.append('>= ' ~ rule['min']) %}{% endif -%}
      {%- if 'gt' in rule %}{% do bounds.append('> ' ~ rule['gt']) %}{% endif -%}
      {%- if 'max' in rule %}{% do bounds.append('<= ' ~ rule['max']) %}{% endif -%}
      {%- if 'lt' in rule %}{% do bounds.append('< ' ~ rule['lt']) %}{% endif -%}
      {{ settings_error(name, value ~ " is out of range (must be " ~ bounds | join(' and ') ~ ")", fix) }}
    {%- endif -%}
  {%- elif kind == 'choice' -%}
    {%- if value is not string or value not in rule['options'] -%}
      {{ settings_error(name, "'" ~ value ~ "' is not one of " ~ rule['options'] | join(', '), fix) }}
    {%- endif -%}
  {%- elif kind == 'text' -%}
    {%- if value is not string or (value | trim) == '' -%}
      {{ settings_error(name, "'" ~ value ~ "' is not a non-empty text", fix) }}
    {%- endif -%}
  {%- elif kind == 'mapping' -%}
    {%- if value is not mapping -%}
      {{ settings_error(name, "expected a mapping, got '" ~ value ~ "'", fix) }}
    {%- endif -%}
  {%- elif kind == 'date' -%}
    {%- if not is_iso_date(value) -%}
      {{ settings_error(name, "'" ~ value ~ "' is not a real date", fix) }}
    {%- endif -%}
  {%- elif kind in ['names', 'dates'] -%}
    {%- if not is_setting_list(value) -%}
      {{ settings_error(name, "expected a list, got '" ~ value ~ "'", fix) }}
    {%- endif -%}
    {%- if (value | length) == 0 and not rule.get('empty', false) -%}
      {{ settings_error(name, "the list is empty", fix) }}
    {%- endif -%}
    {%- for item in value -%}
      {%- if kind == 'dates' and not is_iso_date(item) -%}
        {{ settings_error(name, "'" ~ item ~ "' is not a real date", fix) }}
      {%- elif kind == 'names' and (item is not string or (item | trim) == '') -%}
        {{ settings_error(name, "item " ~ loop.index ~ " ('" ~ item ~ "') is not a name", fix) }}
      {%- elif 'options' in rule and item not in rule['options'] -%}
        {{ settings_error(name, "'" ~ item ~ "' is not one of " ~ rule['options'] | join(', ')
            ~ " (did you mean " ~ closest_setting_name(item, rule['options']) ~ "?)", fix) }}
      {%- endif -%}
    {%- endfor -%}
    {%- if (value | map('string') | unique | list | length) != (value | length) -%}
      {{ settings_error(name, "an item is listed twice in " ~ value, "list each item once") }}
    {%- endif -%}
    {%- if kind == 'dates' and (value | map('string') | list) != (value | map('string') | sort | list) -%}
      {{ settings_error(name, "the dates " ~ value ~ " are not in increasing order", fix) }}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}


{#- Var names given on the command line or in dataset_settings must be vars of
    dbt_project.yml (a misspelt name would otherwise be ignored silently). -#}
{% macro validate_setting_names(registry) %}
  {%- set known = setting_names() -%}
  {%- for name in cli_settings() -%}
    {%- if name not in known -%}
      {{ settings_error(name, "'" ~ name ~ "' (given with --vars) is not a var of dbt_project.yml",
          "did you mean '" ~ closest_setting_name(name) ~ "'? The known vars are listed in dbt_project.yml") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set per_dataset = var('dataset_settings') -%}
  {%- if per_dataset is not none and per_dataset is not mapping -%}
    {{ settings_error('dataset_settings', "expected a mapping dataset: {var: value}", "e.g. {cdnow: {as_of_date: '1997-09-30'}}") }}
  {%- endif -%}
  {%- for dataset, entry in (per_dataset or {}).items() -%}
    {%- if dataset not in registry -%}
      {{ settings_error('dataset_settings', "'" ~ dataset ~ "' is not a known dataset",
          "did you mean '" ~ closest_setting_name(dataset, registry.keys() | list | sort) ~ "'? Use one of " ~ (registry.keys() | list | sort | join(', '))) }}
    {%- endif -%}
    {%- if entry is not none and entry is not mapping -%}
      {{ settings_error('dataset_settings', "the entry of '" ~ dataset ~ "' is not a mapping var: value", "e.g. " ~ dataset ~ ": {as_of_date: '2024-06-30'}") }}
    {%- endif -%}
    {%- for name in (entry or {}) -%}
      {%- if name in ['dataset', 'dataset_settings'] -%}
        {{ settings_error('dataset_settings', "'" ~ name ~ "' cannot be set per dataset (entry '" ~ dataset ~ "')", "set it in dbt_project.yml or on the command line") }}
      {%- elif name not in known -%}
        {{ settings_error(name, "'" ~ name ~ "' (in dataset_settings." ~ dataset ~ ") is not a var of dbt_project.yml",
            "did you mean '" ~ closest_setting_name(name) ~ "'? The known vars are listed in dbt_project.yml") }}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
{% endmacro %}


{% macro validate_settings() %}
  {%- set registry = dataset_registry() -%}
  {%- if var('dataset') not in registry -%}
    {{ settings_error('dataset', unknown_dataset_message(var('dataset')),
        "e.g. --vars '{dataset: nexa_sat}', or register it (README \"Adding a dataset\")") }}
  {%- endif -%}
  {%- do validate_setting_names(registry) -%}

  {#- the plain settings, by rule -#}
  {%- set known = setting_names() -%}
  {%- for name, rule in settings_rules().items() -%}
    {%- if name in known -%}
      {%- do check_setting_rule(name, setting(name), rule) -%}
    {%- endif -%}
  {%- endfor -%}

  {#- relations between settings -#}
  {%- if setting('cluster_k_max') < setting('cluster_k_min') -%}
    {{ settings_error('cluster_k_max', setting('cluster_k_max') ~ " is below cluster_k_min (" ~ setting('cluster_k_min') ~ ")", "search k in cluster_k_min..cluster_k_max, e.g. 2..8") }}
  {%- endif -%}
  {%- set patterns = [] -%}
  {%- for feature in setting('cluster_features') -%}
    {%- do patterns.append('^' ~ modules.re.escape(feature) | replace('\\*', '.*') | replace('\\?', '.') ~ '$') -%}
  {%- endfor -%}
  {%- for feature in setting('cluster_log_features') -%}
    {%- set ns = namespace(found=false) -%}
    {%- for pattern in patterns -%}
      {%- if modules.re.match(pattern, feature) %}{% set ns.found = true %}{% endif -%}
    {%- endfor -%}
    {%- if not ns.found -%}
      {{ settings_error('cluster_log_features', "'" ~ feature ~ "' is not among cluster_features " ~ setting('cluster_features'), "log-transform only features that are clustered on, or remove it") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set edges = setting('churn_risk_band_edges') -%}
  {%- if not is_setting_list(edges) or (edges | length) != 2 or (edges | reject('number') | list | length) > 0 -%}
    {{ settings_error('churn_risk_band_edges', "expected two probabilities [low, high], got '" ~ edges ~ "'", "e.g. [0.3, 0.6]: Low < 0.3 <= Medium < 0.6 <= High") }}
  {%- endif -%}
  {%- if edges[0] < 0 or edges[1] > 1 or edges[1] <= edges[0] -%}
    {{ settings_error('churn_risk_band_edges', edges ~ " are not increasing probabilities between 0 and 1", "list the Medium then the High threshold, e.g. [0.3, 0.6]") }}
  {%- endif -%}

  {%- set pair = setting('segment_migration_pair') -%}
  {%- if pair is not none and (pair | length) != 2 -%}
    {{ settings_error('segment_migration_pair', "expected two dates [from, to], got " ~ pair, "e.g. ['2024-06-30', '2024-12-31'], or null") }}
  {%- endif -%}

  {%- set unit = setting('rfm_time_unit') -%}
  {%- set multiplier = setting('rfm_freq_multiplier') -%}
  {%- if unit in ['day', 'week'] and is_setting_number(multiplier) and ((7 if unit == 'week' else 1) * multiplier) not in [1, 7] -%}
    {{ settings_error('rfm_freq_multiplier', "rfm_time_unit " ~ unit ~ " x rfm_freq_multiplier " ~ multiplier ~ " = " ~ ((7 if unit == 'week' else 1) * multiplier) ~ " days, but the CLV forecast and the backtest (Python step) work in days or weeks", "use rfm_time_unit day with rfm_freq_multiplier 1 (days) or 7 (weeks of 7 days), or rfm_time_unit week with 1") }}
  {%- endif -%}

  {%- set _ = validate_clv_settings() -%}

  {%- set rules = setting('clv_segments') -%}
  {%- if not is_setting_list(rules) or (rules | length) == 0 -%}
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
    {%- if not is_setting_number(rule.percentile) or rule.percentile < 0 or rule.percentile > 1 -%}
      {{ settings_error('clv_segments', "rule '" ~ rule.label ~ "' has percentile " ~ rule.percentile, "percentiles are fractions between 0 and 1") }}
    {%- endif -%}
    {%- if rule.percentile > ns.previous -%}
      {{ settings_error('clv_segments', "rule '" ~ rule.label ~ "' (" ~ rule.percentile ~ ") is above the rule before it", "list rules from the highest percentile down") }}
    {%- endif -%}
    {%- set ns.previous = rule.percentile -%}
  {%- endfor -%}

  {%- set campaigns = setting('campaigns') -%}
  {%- if campaigns is not mapping -%}
    {{ settings_error('campaigns', "expected a mapping campaign_name: SQL predicate", "see dbt_project.yml for the default") }}
  {%- endif -%}
  {%- for name, predicate in campaigns.items() -%}
    {%- if predicate is not string or (predicate | trim) == '' -%}
      {{ settings_error('campaigns', "campaign '" ~ name ~ "' has no SQL predicate", "write a condition such as \"plan_level = 'Basic'\"") }}
    {%- endif -%}
  {%- endfor -%}

  {%- set _ = validate_product_settings() -%}
  {%- set _ = validate_rfm_settings() -%}
  select 1 as settings_ok
{% endmacro %}
