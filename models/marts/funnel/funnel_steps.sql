{#- The funnel of var('funnel_steps'): per step, the customers who reached it
    (in order, see customer_funnel), the drop from the previous step and the
    conversion from the previous step and from step 1, over the mature
    entrants; entrants not yet mature (funnel_is_mature) are counted apart in
    not_yet_mature_users. Empty when nobody
    entered the funnel (e.g. a dataset without events). -#}
{%- set steps = setting('funnel_steps') %}

with customer_funnel as (

    select * from {{ ref('customer_funnel') }}

),

furthest_counts as (

    select
        furthest_step,
        count(*) filter (where is_mature) as users,
        count(*) filter (where not is_mature) as not_yet_mature_users
    from customer_funnel
    group by furthest_step

),

conversion as (

    {{ funnel_conversion('furthest_counts', steps) }}

),

final as (

    select
        step_number,
        event_name,
        users,
        dropped_users,
        conversion_from_previous,
        conversion_from_start,
        not_yet_mature_users
    from conversion

)

select * from final
