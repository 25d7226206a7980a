{#- The sBG's fitted parameters per segment (sbg_parameters, long) as one row per
    segment with columns alpha and beta. -#}
{% macro sbg_segment_parameters() -%}
    select
        segment,
        max(value) filter (where parameter = 'alpha')                   as alpha,
        max(value) filter (where parameter = 'beta')                    as beta
    from {{ ref('sbg_parameters') }}
    group by segment
{%- endmacro %}


{#- The sBG's survival S(t) (Fader & Hardie 2007) at period t, a window function over
    the periods 0..t of a segment in order (`window`, rows from the first to the
    current): the product of the retention rates r(k) = 1 - alpha / (alpha + beta + k - 1),
    k = 1..t, summed in logs (lgamma differences lose every digit when alpha and
    beta are huge, the geometric limit); S(0) = 1. -#}
{% macro sbg_fitted_survival(alpha, beta, period, window) -%}
exp(sum(case when {{ period }} >= 1
             then ln(1 - {{ alpha }} / ({{ alpha }} + {{ beta }} + {{ period }} - 1)) else 0 end) over {{ window }})
{%- endmacro %}


{#- Kaplan-Meier survival: the product of the retention rates `rate` up to the
    current row of `window` (0 once one is 0). -#}
{% macro kaplan_meier_survival(rate, window) -%}
case
    when min({{ rate }}) over {{ window }} = 0 then 0.0
    else exp(sum(ln({{ rate }})) over {{ window }})
end
{%- endmacro %}


{#- Per sBG segment and renewal t (the rows of a `spine` of periods 0..last per
    group `partition_by`, left-joined to `by_renewal`: per period, `lost` at it and
    `reached` = the periods whose renewals survived end there): the periods that
    survived renewal t = renewals >= t, all but those with renewals < t (reached at
    a period <= t). -#}
{% macro sbg_survived(partition_by) -%}
spine.periods_at_start - coalesce(sum(by_renewal.reached) over (
            partition by {{ partition_by }} order by spine.period
            rows between unbounded preceding and current row), 0)
{%- endmacro %}


{#- At renewal t (a row with period, periods_at_start, lost, survived): the periods
    at risk (whose outcome of renewal t is known) and the actual retention rate,
    1 at the start (t = 0). -#}
{% macro sbg_at_risk_and_retention() -%}
case when period = 0 then periods_at_start else survived + lost end as at_risk,
        case when period = 0 then 1.0
             else 1.0 - lost / nullif(survived + lost, 0) end             as actual_retention_rate
{%- endmacro %}
