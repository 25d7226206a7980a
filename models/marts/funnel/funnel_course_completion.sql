{#- Completion per object (per course for the default funnel): of the
    customers who reached the first step matched to an object
    (var('funnel_match_object'), default enrolled_in_course) on this object,
    how many reached the last step on the same object (completed that course).
    Read from customer_funnel_chains, so the steps are reached exactly as in
    every funnel mart (after signing up, in order, within the window). Counts
    only mature entrants (funnel_is_mature); the not yet mature are counted
    apart. Empty when no step is matched to an object. -#}
{%- set steps = setting('funnel_steps') -%}
{%- set n = steps | length -%}
{%- set object_from = funnel_object_from_step(steps, setting('funnel_match_object')) %}

with chains as (

    select * from {{ ref('customer_funnel_chains') }}

),

{%- if object_from <= n %}

per_object as (

    select
        chain_object_id as object_id,
        count(*) filter (where is_mature) as entered_users,
        count(*) filter (where is_mature and step_{{ n }}_at is not null) as completed_users,
        count(*) filter (where not is_mature) as not_yet_mature_entered_users,
        count(*) filter (where not is_mature and step_{{ n }}_at is not null) as not_yet_mature_completed_users
    from chains
    where chain_object_id is not null
    group by chain_object_id

),
{%- else %}

-- no step is matched to an object: no per-object completion, an empty typed table
per_object as (

    select
        cast(null as {{ dbt.type_string() }}) as object_id,
        cast(null as bigint) as entered_users,
        cast(null as bigint) as completed_users,
        cast(null as bigint) as not_yet_mature_entered_users,
        cast(null as bigint) as not_yet_mature_completed_users
    where false

),
{%- endif %}

final as (

    select
        object_id,
        cast({{ sql_literal(steps[object_from - 1] if object_from <= n else none) }} as {{ dbt.type_string() }}) as from_event_name,
        cast({{ sql_literal(steps[n - 1]) }} as {{ dbt.type_string() }}) as to_event_name,
        cast(entered_users as bigint) as entered_users,
        cast(completed_users as bigint) as completed_users,
        {{ safe_divide('completed_users', 'entered_users') }} as completion_rate,
        cast(not_yet_mature_entered_users as bigint) as not_yet_mature_entered_users,
        cast(not_yet_mature_completed_users as bigint) as not_yet_mature_completed_users
    from per_object

)

select * from final
