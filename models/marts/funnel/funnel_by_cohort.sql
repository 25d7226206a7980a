{#- The funnel by entry cohort: customers grouped by the week or month
    (var('funnel_cohort_grain')) in which they reached step 1, one row per
    cohort and step, with the measures of funnel_steps within the cohort. As
    everywhere in the funnel marts, conversion counts only mature entrants
    (funnel_is_mature); the not yet mature are counted apart, and is_mature
    tells whether the whole cohort is mature. Empty when nobody entered. -#}
{%- set steps = setting('funnel_steps') -%}
{%- set grain = setting('funnel_cohort_grain') %}

with customer_funnel as (

    select * from {{ ref('customer_funnel') }}

),

furthest_counts as (

    select
        cast({{ dbt.date_trunc(grain, 'step_1_at') }} as date) as cohort_start,
        furthest_step,
        count(*) filter (where is_mature) as users,
        count(*) filter (where not is_mature) as not_yet_mature_users
    from customer_funnel
    group by 1, 2

),

conversion as (

    {{ funnel_conversion('furthest_counts', steps, ['cohort_start']) }}

),

entered as (

    select
        cohort_start,
        users + not_yet_mature_users as entered_users,
        not_yet_mature_users = 0 as is_mature
    from conversion
    where step_number = 1

),

final as (

    select
        {{ sql_literal(grain) }} as cohort_grain,
        conversion.cohort_start,
        conversion.step_number,
        conversion.event_name,
        entered.entered_users,
        entered.is_mature,
        conversion.users,
        conversion.dropped_users,
        conversion.conversion_from_previous,
        conversion.conversion_from_start,
        conversion.not_yet_mature_users
    from conversion
    inner join entered
        on entered.cohort_start = conversion.cohort_start

)

select * from final
