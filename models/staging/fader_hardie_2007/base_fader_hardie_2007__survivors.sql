{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Every raw row of the paper's survivor table, typed, with the reason it cannot
    be used: a cohort's counts must start at year 0 and never increase. -#}

with source as (

    select * from {{ raw_relation('fader_hardie_2007_survivors') }}

),

typed as (

    select
        nullif(trim(cohort), '')                                        as cohort,
        try_cast(trim(year) as integer)                                 as year,
        try_cast(trim(survivors) as integer)                            as survivors,
        source                                                          as raw,
        cast(to_json(source) as varchar)                                as raw_row
    from source

),

counted as (

    select
        *,
        count(*) over (partition by cohort, year)                       as key_copies,
        -- the previous year's count of the same cohort (null for year 0 or a gap)
        lag(survivors) over (partition by cohort order by year)         as previous_survivors,
        lag(year) over (partition by cohort order by year)              as previous_year,
        min(year) over (partition by cohort)                            as first_year
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("cohort is null", "'missing cohort'"),
            ("year is null", "'year is not a whole number: ' || coalesce('''' || raw.year || '''', 'null')"),
            ("year < 0", "'negative year'"),
            ("survivors is null", "'survivors is not a whole number: ' || coalesce('''' || raw.survivors || '''', 'null')"),
            ("survivors < 0", "'negative survivors'"),
            ("key_copies > 1", "'duplicate cohort and year'"),
            ("first_year <> 0", "'the cohort has no year 0 row'"),
            ("year > 0 and previous_year is distinct from year - 1", "'the year before is missing'"),
            ("survivors > previous_survivors", "'more survivors than the year before'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
