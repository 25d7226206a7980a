{#- A carried table (docs/DESIGN.md "Publishing"): an incremental model that builds
    extend instead of rebuilding, listed in var('publish_carried_tables') so each build
    starts from the published rows. delete+insert on `unique_key` replaces the rows of
    the keys the build writes (an as-of date, a version id) and keeps the others;
    full_refresh=false: `dbt build --full-refresh` keeps it too; a column added later is
    appended. segment_history, model_versions and model_refit_history use it. -#}
{% macro carried_table_config(unique_key) %}
  {{- config(
      materialized='incremental',
      incremental_strategy='delete+insert',
      unique_key=unique_key,
      full_refresh=false,
      on_schema_change='append_new_columns',
  ) -}}
{% endmacro %}
