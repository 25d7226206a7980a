{{ config(materialized='table') }}
{#- Every row of the events input file, typed, with the reason it cannot be used
    (null when it can). One scan of the file; read by stg_files__events and
    stg_files__events_rejected. -#}
{{ files_base('events', required=['customer_id', 'event_at', 'event_name'], key=none, customer_check=true, extra_checks=[]) }}
