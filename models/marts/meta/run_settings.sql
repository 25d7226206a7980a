{#- Every var of dbt_project.yml, resolved for this build (command line >
    dataset_settings > project default), one row per var with its value as JSON;
    dataset_settings is recorded as the resolved dataset's entry. The list comes
    from the project's vars (setting_names()), so a new var is recorded without
    editing this model. Python models read their configuration from here;
    analysts can see which configuration produced the tables.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}

with settings (setting_name, value_json) as (

    values
    {%- for name in setting_names() %}
        {%- set value = dataset_settings_entry() if name == 'dataset_settings' else setting(name) %}
        ('{{ name }}', '{{ tojson(value) | replace("'", "''") }}'){{ ',' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        setting_name,
        value_json,
        {%- if setting('as_of_date') is none %}
        cast({{ as_of_date() }} as varchar)     as resolved_as_of_date,
        {%- else %}
        '{{ setting("as_of_date") }}'           as resolved_as_of_date,
        {%- endif %}
        {#- the upper end of the inputs' plausible date window (input_date_max, null =
            the day the build ran): recorded so the build can be reproduced -#}
        
        '{{ setting("input_date_max") or run_started_at.strftime("%Y-%m-%d") }}' as resolved_input_date_max,
        {#- what the build ran on, besides the vars (profiles.yml: SEGMENTS_MEMORY_LIMIT,
            SEGMENTS_THREADS): DuckDB's memory limit as it reports it, and dbt's threads -#}
        current_setting('memory_limit')         as duckdb_memory_limit,
        cast({{ target.threads }} as integer)   as dbt_threads
    from settings

)

select * from final
