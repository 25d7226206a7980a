{#- Actual against fitted survival per sBG segment (all, and each plan level per
    sbg_segmentation) and period: the Kaplan-Meier survival of sbg_input's periods
    at the as-of date (for one start cohort, the survivors' share), the sBG's S(t)
    from sbg_parameters, the retention rates, and whether the period was known at
    the calibration end (calibration) or is projected by the fit (holdout).
    At renewal t (period t >= 1): at risk = periods whose outcome of renewal t is
    known (renewals survived >= t, or lost at it); lost = lost at renewal t. -#}
{%- set pooled_only = setting('sbg_segmentation') == 'pooled' -%}

with input as (

    select * from {{ ref('sbg_input') }}

),

parameters as (

    {{ sbg_segment_parameters() }}

),

segmented as (

    select
        'all' as segment,
        renewals_at_as_of,
        is_lost_at_as_of,
        renewals_at_calibration,
        is_lost_at_calibration
    from input
    {%- if not pooled_only %}
    union all
    select
        coalesce(plan_level, '(none)'),
        renewals_at_as_of,
        is_lost_at_as_of,
        renewals_at_calibration,
        is_lost_at_calibration
    from input
    {%- endif %}

),

-- per segment and renewal t: lost at it, and periods known to have survived it
by_renewal as (

    select
        segment,
        renewals_at_as_of + 1 as period,
        count(*) filter (where is_lost_at_as_of) as lost,
        count(*) as reached
    from segmented
    where renewals_at_as_of is not null
    group by all

),

bounds as (

    select
        segment,
        max(renewals_at_as_of + case when is_lost_at_as_of then 1 else 0 end)             as last_period,
        max(renewals_at_calibration + case when is_lost_at_calibration then 1 else 0 end) as last_calibration_period,
        count(renewals_at_as_of)                                                          as periods_at_start
    from segmented
    group by segment

),

spine as (

    select
        segment,
        unnest(generate_series(0, last_period)) as period,
        last_calibration_period,
        periods_at_start
    from bounds
    where last_period is not null

),

counted as (

    select
        spine.segment,
        spine.period,
        spine.last_calibration_period,
        spine.periods_at_start,
        coalesce(by_renewal.lost, 0)                                    as lost,
        {{ sbg_survived('spine.segment') }} as survived
    from spine
    left join by_renewal
        on by_renewal.segment = spine.segment and by_renewal.period = spine.period

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
        rated.period,
        case when rated.period <= rated.last_calibration_period then 'calibration' else 'holdout' end as period_kind,
        rated.at_risk,
        rated.lost,
        rated.survived,
        round(rated.actual_retention_rate, 10)                          as actual_retention_rate,
        -- Kaplan-Meier: the product of the retention rates up to t (0 once one is 0)
        round({{ kaplan_meier_survival('rated.actual_retention_rate', 'w') }}, 10) as actual_survival,
        round(case when rated.period >= 1 then (p.beta + rated.period - 1) / (p.alpha + p.beta + rated.period - 1) end, 10) as fitted_retention_rate,
        round({{ sbg_fitted_survival('p.alpha', 'p.beta', 'rated.period', 'w') }}, 10) as fitted_survival,
        round(rated.periods_at_start * {{ sbg_fitted_survival('p.alpha', 'p.beta', 'rated.period', 'w') }}, 4) as fitted_survivors
    from rated
    left join parameters as p on p.segment = rated.segment
    window w as (partition by rated.segment order by rated.period rows between unbounded preceding and current row)

)

select * from final
