{#- Every setting the Python step reads, resolved for this build (command line >
    dataset_settings > project default), one row per setting with its value as
    JSON. Python models read their configuration from here; analysts can see
    which configuration produced the tables. -#}

with settings (setting_name, value_json) as (

    values
    {%- for name in settings_catalog() %}
        ('{{ name }}', '{{ tojson(setting(name)) | replace("'", "''") }}'){{ ',' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        setting_name,
        value_json,
        {%- if setting('as_of_date') is none %}
        cast({{ as_of_date() }} as varchar)     as resolved_as_of_date
        {%- else %}
        '{{ setting("as_of_date") }}'           as resolved_as_of_date
        {%- endif %}
    from settings

)

select * from final
