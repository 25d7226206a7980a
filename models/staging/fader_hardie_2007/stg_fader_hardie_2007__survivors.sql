{{ config(enabled=dataset_adapter_enabled()) }}
{#- The paper's usable survivor counts: cohort, year (0..12), survivors. -#}

with checked as (

    select * from {{ ref('base_fader_hardie_2007__survivors') }}

),

final as (

    select cohort, year, survivors
    from checked
    where rejection_reason is null

)

select * from final
