{#- Kept across builds like segment_history (a carried table, macros/carried.sql): the
    refit decisions of every as-of date built, one row per as-of date, step and models
    (the key of model_refit_decisions is step and models), as model_refit_decisions made
    them for that date. delete+insert on as_of_date: re-running
    an as-of date replaces its rows, the other dates are kept. No build-record column:
    the same data and settings give the same rows (a full refresh equals an incremental run). -#}
{{ carried_table_config('as_of_date') }}

with

decisions as (

    select * from {{ ref('model_refit_decisions') }}

),

final as (

    select
        cast(as_of_date as date)                 as as_of_date,
        step,
        refit_policy,
        drift_threshold,
        drift_measure,
        drift,
        drift_feature,
        drift_by_feature,
        previous_version_id,
        decision,
        reason,
        version_id,
        cast(train_start_date as date)           as train_start_date,
        cast(train_end_date as date)             as train_end_date,
        cast(rows_used as bigint)                as rows_used,
        -- last: a column added to a carried table is appended (on_schema_change)
        models
    from decisions
    -- no as-of date (a dataset without dates): no time axis to keep a history on
    where as_of_date is not null

)

select * from final
order by as_of_date, step, models
