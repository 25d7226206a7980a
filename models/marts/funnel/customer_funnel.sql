{#- One row per customer who entered the funnel (reached step 1): when each step
    of var('funnel_steps') was reached and the furthest step: the path picked from
    the customer's chains in customer_funnel_chains (funnel_paths). Semantics in
    macros/funnel.sql: strictly ordered steps (an event before the previous step
    does not count), optional var('funnel_window_days') from step 1, optional
    var('funnel_match_object') (steps 2..N on the same object_id). Events after
    the as-of date are ignored. is_mature: the maturity rule of
    funnel_is_mature (whole window elapsed by the as-of date). -#}
{%- set steps = setting('funnel_steps') %}

with customer_steps as (

    {{ funnel_paths(ref('customer_funnel_chains'), steps) }}

),

final as (

    select
        customer_id,
        path_object_id,
        {%- for step in steps %}
        step_{{ loop.index }}_at,
        {%- endfor %}
        furthest_step,
        furthest_event_name,
        furthest_step = {{ steps | length }} as has_completed_funnel,
        {{ funnel_is_mature('step_1_at') }} as is_mature
    from customer_steps

)

select * from final
