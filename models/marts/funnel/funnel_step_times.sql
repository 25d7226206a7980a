{#- Time between funnel steps: for every pair of steps (from_step < to_step),
    the customers who reached to_step (hence from_step) and the mean, median and
    90th percentile (continuous) of the hours between the two steps, measured on
    each customer's path in customer_funnel (whole seconds). Every pair is
    listed while anyone entered the funnel (0 users, null hours when nobody
    reached to_step); empty when nobody entered. -#}
{%- set steps = setting('funnel_steps') -%}
{%- set n = steps | length %}

with customer_funnel as (

    select * from {{ ref('customer_funnel') }}

),

step_pairs as (

    {{ funnel_step_pairs(steps) }}

),

durations as (
    {%- for i in range(1, n + 1) %}
    {%- for j in range(i + 1, n + 1) %}

    select
        {{ i }} as from_step,
        {{ j }} as to_step,
        {{ dbt.datediff('step_' ~ i ~ '_at', 'step_' ~ j ~ '_at', 'second') }} / 3600.0 as hours
    from customer_funnel
    where step_{{ j }}_at is not null
    {{ 'union all' if not (i == n - 1 and j == n) }}
    {%- endfor %}
    {%- endfor %}

),

summary as (

    select
        from_step,
        to_step,
        count(*) as users,
        avg(hours) as avg_hours,
        {{ percentile_cont('hours', 0.5) }} as median_hours,
        {{ percentile_cont('hours', 0.9) }} as p90_hours
    from durations
    group by from_step, to_step

),

final as (

    select
        step_pairs.from_step,
        step_pairs.from_event_name,
        step_pairs.to_step,
        step_pairs.to_event_name,
        cast(coalesce(summary.users, 0) as bigint) as users,
        summary.avg_hours,
        summary.median_hours,
        summary.p90_hours
    from step_pairs
    left join summary
        on summary.from_step = step_pairs.from_step
        and summary.to_step = step_pairs.to_step
    where exists (select 1 from customer_funnel)

)

select * from final
