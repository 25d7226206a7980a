{#- Time between funnel steps: for every pair of steps (from_step < to_step),
    the customers who reached to_step (hence from_step) and the mean, median and
    90th percentile (continuous) of the hours between the two steps. Each
    to_step is measured on the customer's FIRST path to it: the chain of
    customer_funnel_chains that reached to_step earliest (ties: the smallest
    object_id), and from_step is that chain's. So signup -> enrolment runs to
    the first enrolment after signing up, and enrolment -> completion from the
    enrolment in the course completed first to its completion (same object).
    Computed on whole seconds (exact integers: the mean is an exact sum divided
    once, the percentiles interpolate sorted integers), then / 3600, so a
    re-run gives the same bytes. Every pair is listed while anyone entered the
    funnel (0 users, null hours when nobody reached to_step); empty when nobody
    entered. -#}
{%- set steps = setting('funnel_steps') -%}
{%- set n = steps | length %}

with chains as (

    select * from {{ ref('customer_funnel_chains') }}

),

step_pairs as (

    {{ funnel_step_pairs(steps) }}

),

-- per customer and step j >= 2, the chain that reached step j first (ties: the
-- smallest object_id, null last; funnel_chain_order)
first_paths as (
    {%- for j in range(2, n + 1) %}

    select
        {{ j }} as to_step,
        customer_id,
        arg_min(
            { {%- for step in steps %}step_{{ loop.index }}_at: step_{{ loop.index }}_at{{ ', ' if not loop.last }}{% endfor -%} },
            {{ funnel_chain_order([('rank_at', 'step_' ~ j ~ '_at')]) }}
        ) as path
    from chains
    where step_{{ j }}_at is not null
    group by customer_id
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

durations as (
    {%- for i in range(1, n + 1) %}
    {%- for j in range(i + 1, n + 1) %}

    select
        {{ i }} as from_step,
        {{ j }} as to_step,
        cast({{ dbt.datediff('path.step_' ~ i ~ '_at', 'path.step_' ~ j ~ '_at', 'second') }} as bigint) as seconds
    from first_paths
    where to_step = {{ j }}
    {{ 'union all' if not (i == n - 1 and j == n) }}
    {%- endfor %}
    {%- endfor %}

),

summary as (

    select
        from_step,
        to_step,
        count(*) as users,
        -- exact: an integer sum (no float rounding, whatever the order), divided once
        cast(sum(seconds) as double) / count(*) / 3600.0 as avg_hours,
        {{ percentile_cont('seconds', 0.5) }} / 3600.0 as median_hours,
        {{ percentile_cont('seconds', 0.9) }} / 3600.0 as p90_hours
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
        on
            summary.from_step = step_pairs.from_step
            and summary.to_step = step_pairs.to_step
    -- read the table itself, not the chains CTE: an EXISTS over a CTE that the
    -- window above also reads made DuckDB 2.0 run this model for over 18 minutes
    -- at 1M customers (5 s this way)
    where exists (select 1 from {{ ref('customer_funnel_chains') }})

)

select * from final
order by from_step, to_step
