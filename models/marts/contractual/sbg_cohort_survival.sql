{#- Survival by start cohort: per sBG segment (all, and each plan level per
    sbg_segmentation), start cohort (the sbg_period a subscription period started
    in) and renewal t, the Kaplan-Meier survival of the cohort's periods at the
    as-of date against the segment's fitted S(t) (sbg_parameters), as sbg_survival
    does for all cohorts together. Periods without a start date (the telecom
    snapshot) have no cohort and are left out. -#}
{%- set pooled_only = setting('sbg_segmentation') == 'pooled' -%}

with input as (

    select * from {{ ref('sbg_input') }}
    where start_cohort is not null and renewals_at_as_of is not null

),

parameters as (

    {{ sbg_segment_parameters() }}

),

segmented as (

    select
        'all' as segment,
        start_cohort,
        renewals_at_as_of,
        is_lost_at_as_of
    from input
    {%- if not pooled_only %}
    union all
    select
        coalesce(plan_level, '(none)'),
        start_cohort,
        renewals_at_as_of,
        is_lost_at_as_of
    from input
    {%- endif %}

),

by_renewal as (

    select
        segment,
        start_cohort,
        renewals_at_as_of + 1 as period,
        count(*) filter (where is_lost_at_as_of) as lost,
        count(*) as reached
    from segmented
    group by all

),

bounds as (

    select
        segment,
        start_cohort,
        max(renewals_at_as_of + case when is_lost_at_as_of then 1 else 0 end) as last_period,
        count(*)                                                        as periods_at_start
    from segmented
    group by all

),

spine as (

    select
        segment,
        start_cohort,
        unnest(generate_series(0, last_period)) as period,
        periods_at_start
    from bounds

),

counted as (

    select
        spine.segment,
        spine.start_cohort,
        spine.period,
        spine.periods_at_start,
        coalesce(by_renewal.lost, 0)                                    as lost,
        {{ sbg_survived('spine.segment, spine.start_cohort') }} as survived
    from spine
    left join by_renewal
        on
            by_renewal.segment = spine.segment
            and by_renewal.start_cohort = spine.start_cohort
            and by_renewal.period = spine.period

),

rated as (

    select
        *,
        {{ sbg_at_risk_and_retention() }}
    from counted

),

final as (

    select
        rated.segment,
        rated.start_cohort,
        rated.period,
        rated.periods_at_start,
        rated.at_risk,
        rated.lost,
        rated.survived,
        round({{ kaplan_meier_survival('rated.actual_retention_rate', 'w') }}, 10) as actual_survival,
        round({{ sbg_fitted_survival('p.alpha', 'p.beta', 'rated.period', 'w') }}, 10) as fitted_survival
    from rated
    left join parameters as p on p.segment = rated.segment
    -- a period whose renewal nobody in the cohort has reached yet has no rate
    where rated.at_risk > 0
    window w as (
        partition by rated.segment, rated.start_cohort order by rated.period
        rows between unbounded preceding and current row
    )

)

select * from final
