{#- setting(name): the value of a configuration var, with per-dataset defaults.
    Precedence: a var given on the command line (--vars) > the dataset's entry in
    var('dataset_settings') > the var's project default in dbt_project.yml.
    So a study's configuration lives in dataset_settings, and a user can still
    override any of it for one run. -#}
{% macro setting(name, default=none) %}
  {%- set cli_vars = invocation_args_dict.get('vars') or {} -%}
  {%- if cli_vars is mapping and name in cli_vars -%}
    {{ return(cli_vars[name]) }}
  {%- endif -%}
  {%- set per_dataset = (var('dataset_settings', {}) or {}).get(var('dataset'), {}) or {} -%}
  {%- if name in per_dataset -%}
    {{ return(per_dataset[name]) }}
  {%- endif -%}
  {{ return(var(name, default)) }}
{% endmacro %}


{#- The settings the Python step reads (through the run_settings table). -#}
{% macro settings_catalog() %}
{{ return([
  'dataset', 'as_of_date',
  'cluster_methods', 'cluster_features', 'cluster_log_features', 'cluster_scaling',
  'cluster_value_column', 'cluster_k', 'cluster_k_min', 'cluster_k_max',
  'cluster_dbscan_eps', 'cluster_dbscan_min_samples', 'cluster_dbscan_max_fit_size',
  'cluster_kmeans_max_fit_size', 'cluster_tier_names', 'cluster_random_state',
  'cluster_input', 'monthly_matrix_months', 'monthly_matrix_activity_events',
  'rfm_time_unit', 'clv_forecast_horizon_months', 'clv_forecast_monthly_discount_rate',
  'clv_forecast_days_per_month', 'clv_forecast_penalizer',
  'churn_mode', 'churn_horizon_days', 'churn_inactivity_days', 'churn_features', 'tier_change_features',
  'churn_model', 'churn_cv_folds', 'churn_random_state', 'churn_risk_band_edges', 'tier_plan_order',
  'churn_max_train_rows',
  'rfm_freq_multiplier', 'backtest_window_days', 'backtest_cutoffs', 'backtest_cutoff_count',
  'backtest_top_share', 'backtest_rfm_high_segments', 'backtest_kmeans_k'
]) }}
{% endmacro %}
