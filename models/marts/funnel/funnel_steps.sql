{#- The funnel of var('funnel_steps'): per step, the customers who reached it
    (in order, see customer_funnel), the drop from the previous step and the
    conversion from the previous step and from step 1. Empty when nobody
    entered the funnel (e.g. a dataset without events). -#}
{%- set steps = setting('funnel_steps') %}

with customer_funnel as (

    select * from {{ ref('customer_funnel') }}

),

furthest_counts as (

    select furthest_step, count(*) as users
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
        conversion_from_start
    from conversion

)

select * from final
