{#- Kept across builds like segment_history (listed in var publish_carried_tables):
    one row per version of a fit a Python step recorded, keyed by its deterministic
    version id. Each build writes the version it used (model_refit_decisions):
    delete+insert on version_id replaces that version's row, keeping when it was first
    recorded and widening the as-of dates it scored; the other versions are kept.
    full_refresh=false: `dbt build --full-refresh` keeps it too. The steps read the
    carried rows (before this model runs) to reuse a fit: segkit.refit.
    Config: macros/carried.sql. -#}
{{ carried_table_config('version_id') }}

with

used as (

    select * from {{ ref('model_refit_decisions') }}
    where version_id is not null

),

{% if is_incremental() %}
known as (

    select
        version_id,
        first_scored_as_of_date,
        last_scored_as_of_date,
        recorded_build_id,
        recorded_at
    from {{ this }}

),
{% else %}
known as (

    select
        cast(null as varchar)   as version_id,
        cast(null as date)      as first_scored_as_of_date,
        cast(null as date)      as last_scored_as_of_date,
        cast(null as varchar)   as recorded_build_id,
        cast(null as timestamp) as recorded_at
    where false

),
{% endif %}

final as (

    select
        used.version_id,
        used.step,
        used.models,
        used.parameters,
        used.fit_settings,
        cast(used.train_start_date as date)                                    as train_start_date,
        cast(used.train_end_date as date)                                      as train_end_date,
        cast(used.rows_used as bigint)                                         as rows_used,
        used.feature_bins,
        cast(least(known.first_scored_as_of_date, used.as_of_date) as date)    as first_scored_as_of_date,
        cast(greatest(known.last_scored_as_of_date, used.as_of_date) as date)  as last_scored_as_of_date,
        coalesce(known.recorded_build_id, '{{ invocation_id }}')               as recorded_build_id,
        coalesce(
            known.recorded_at,
            cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
        ) as recorded_at
    from used
    left join known using (version_id)

)

select * from final
order by version_id
