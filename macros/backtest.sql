{#- The segment backtest's cutoffs (a CTE body: one row per cutoff_date): var
    backtest_cutoffs, or the var backtest_cutoff_count cutoffs spaced one window
    (var backtest_window_days) apart whose windows end at the as-of date (none
    without an as-of date). Read by
    int_backtest_point_in_time_features and backtest_cutoff_features. -#}
{% macro backtest_cutoffs() %}
  {%- set window_days = setting('backtest_window_days') | int -%}
  {%- set explicit = setting('backtest_cutoffs') -%}
  {%- set count = setting('backtest_cutoff_count') | int -%}
  {%- if explicit %}
    select cast(d as date) as cutoff_date
    from (values {% for c in explicit %}('{{ c }}'){{ ', ' if not loop.last }}{% endfor %}) as t(d)
  {%- else %}
    -- the table alias r is there for the column alias k (AL05); none when the
    -- dataset has no as-of date (a snapshot without dates, the telecom study)
    select cutoff_date
    from (
        select cast({{ as_of_date() }} as date) - cast({{ window_days }} * k as integer) as cutoff_date
        from range(1, {{ count + 1 }}) as r(k) -- noqa: AL05
    ) as rolling
    where cutoff_date is not null
  {%- endif %}
{% endmacro %}
