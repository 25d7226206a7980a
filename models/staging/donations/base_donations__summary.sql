{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Every raw row of the donations summary, typed, with the reason it cannot be
    used (a pattern needs 0 <= frequency <= recency <= periods, recency 0 when
    frequency is 0, and a positive whole count). -#}

with source as (

    select * from {{ raw_relation('donations_summary') }}

),

typed as (

    select
        try_cast(trim(frequency) as integer)                            as frequency,
        try_cast(trim(recency) as integer)                              as recency,
        try_cast(trim(periods) as integer)                              as periods,
        try_cast(trim(weights) as integer)                              as donors,
        source                                                          as raw,
        cast(to_json(source) as varchar)                                as raw_row
    from source

),

counted as (

    select *, count(*) over (partition by frequency, recency, periods) as pattern_copies
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("frequency is null", "'frequency is not a whole number: ' || coalesce('''' || raw.frequency || '''', 'null')"),
            ("recency is null", "'recency is not a whole number: ' || coalesce('''' || raw.recency || '''', 'null')"),
            ("periods is null", "'periods is not a whole number: ' || coalesce('''' || raw.periods || '''', 'null')"),
            ("donors is null or donors < 1", "'weights is not a whole number of at least 1: ' || coalesce('''' || raw.weights || '''', 'null')"),
            ("frequency < 0 or frequency > recency or recency > periods", "'needs 0 <= frequency <= recency <= periods'"),
            ("frequency = 0 and recency <> 0", "'recency must be 0 when frequency is 0'"),
            ("pattern_copies > 1", "'duplicate frequency, recency and periods'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
