{#- One row per funnel chain (macros/funnel.sql, funnel_chains): per customer
    who reached step 1, one chain per object_id on which the customer reached
    the first step matched to an object (var('funnel_match_object'); default:
    per course enrolled in after signing up), or one chain with a null object
    when no matched step was reached or nothing is matched. Each chain has its
    own step times; customer_funnel reports one of them (the path), while
    funnel_step_times and funnel_course_completion read them all. Events after
    the as-of date are ignored. -#}
{%- set steps = setting('funnel_steps') %}

with events as (

    {{ funnel_events() }}

),

chains as (

    {{ funnel_chains('events', steps, setting('funnel_window_days'), setting('funnel_match_object')) }}

),

final as (

    select
        customer_id,
        chain_object_id,
        {%- for step in steps %}
        step_{{ loop.index }}_at,
        {%- endfor %}
        furthest_step,
        {{ funnel_is_mature('step_1_at') }} as is_mature
    from chains

)

select * from final
