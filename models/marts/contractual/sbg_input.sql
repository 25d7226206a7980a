{#- The sBG's data (SQL prepares, Python fits: sbg_parameters): one row per
    subscription period started by the as-of date (a later one is not known yet),
    what was known about it at the calibration end (setting sbg_calibration_end,
    default the as-of date) and at the as-of date.

    Periods paid = the period's billing cycles by then (billed_months,
    macros/billing.sql: the dataset's tenure_months when given) in periods of
    sbg_period (1, 3 or 12 months), rounded up. Renewals survived, by status:
    - lost (cancelled by then, is_cancelled_by_as_of): paid k periods, lost at
      renewal k: renewals k - 1, is_lost (the sBG's P(T = k));
    - changed_plan (ended otherwise, an upgrade or downgrade): it renewed into
      another plan: renewals k, not lost (S(k));
    - open: paying its k-th period, the next renewal not known: renewals k - 1,
      not lost (S(k - 1));
    - not_started (later than the calibration end; never at the as-of date, whose
      later periods are not listed) or no_period (0 cycles): renewals null.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set months = {'month': 1, 'quarter': 3, 'year': 12}[setting('sbg_period')] -%}
{%- set calibration_end = setting('sbg_calibration_end') -%}

with {{ subscription_periods_ctes() }},

cutoffs as (

    select
        cast(as_of.as_of_at as date)                                    as as_of_date,
        as_of.as_of_end,
        {%- if calibration_end is none %}
        cast(as_of.as_of_at as date)                                    as calibration_date,
        as_of.as_of_end                                                 as calibration_end
        {%- else %}
        cast('{{ calibration_end }}' as date)                           as calibration_date,
        {{ as_of_end("cast('" ~ calibration_end ~ "' as date)") }}      as calibration_end
        {%- endif %}
    from as_of

),

measured as (

    select
        {{ subscription_period_columns('periods') }},
        cast({{ dbt.date_trunc(setting('sbg_period'), 'periods.started_at') }} as date) as start_cohort,
        cutoffs.calibration_date,
        cutoffs.as_of_date,
        {%- for name, cutoff in [('calibration', 'cutoffs.calibration_end'), ('as_of', 'cutoffs.as_of_end')] %}
        case when {{ is_started_by_as_of('periods', cutoff) }}
             then cast(ceil({{ billed_months('periods', cutoff) }} / {{ months }}) as integer) end as periods_paid_at_{{ name }},
        case
            when not {{ is_started_by_as_of('periods', cutoff) }} then 'not_started'
            when {{ is_cancelled_by_as_of('periods', cutoff) }} then 'lost'
            when {{ is_ended_by_as_of('periods', cutoff) }} then 'changed_plan'
            else 'open'
        end                                                             as status_at_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from periods
    cross join cutoffs
    -- a period that starts after the as-of date is not known yet
    where {{ is_started_by_as_of('periods', 'cutoffs.as_of_end') }}

),

final as (

    select
        subscription_id,
        customer_id,
        plan_level,
        monthly_amount,
        started_at,
        start_cohort,
        calibration_date,
        as_of_date,
        {%- for name in ['calibration', 'as_of'] %}
        case when periods_paid_at_{{ name }} >= 1 then status_at_{{ name }}
             when status_at_{{ name }} = 'not_started' then status_at_{{ name }}
             else 'no_period' end                                       as status_at_{{ name }},
        case when periods_paid_at_{{ name }} >= 1 then periods_paid_at_{{ name }} end as periods_paid_at_{{ name }},
        case when periods_paid_at_{{ name }} >= 1 then
            periods_paid_at_{{ name }} - case when status_at_{{ name }} = 'changed_plan' then 0 else 1 end
        end                                                             as renewals_at_{{ name }},
        case when periods_paid_at_{{ name }} >= 1 then status_at_{{ name }} = 'lost' end as is_lost_at_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from measured

)

select * from final
