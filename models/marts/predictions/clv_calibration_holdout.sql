{#- The calibration/holdout split of the BTYD validation (issue 13): one row per
    customer of customer_rfm with a purchase by the calibration end, with the BTYD
    summary at the calibration end and what the same customer did after it, up to
    the as-of date. Both summaries come from rfm_btyd_ctes (the one BTYD definition),
    once per split point, so "a purchase period" means the same thing in both:
    frequency_holdout = repeat purchase periods after the calibration end =
    frequency at the as-of date - frequency at the calibration end (as lifetimes'
    calibration_and_holdout_data). Calibration end: the setting clv_calibration_end,
    or (null) the as-of date minus the forecast horizon (clv_forecast_horizon_months x
    clv_forecast_days_per_month days). -#}
{%- set time_unit = setting('rfm_time_unit') -%}
{%- set multiplier = setting('rfm_freq_multiplier') -%}
{%- set calibration_end = setting('clv_calibration_end') -%}
{%- set horizon_days = (setting('clv_forecast_horizon_months') * setting('clv_forecast_days_per_month')) | round | int %}

with as_of as (

    select {{ as_of_date() }} as as_of_date

),

split as (

    select
        {%- if calibration_end is not none %}
        cast('{{ calibration_end }}' as date) as calibration_end,
        {%- else %}
        cast(as_of_date - {{ horizon_days }} as date) as calibration_end,
        {%- endif %}
        as_of_date as observation_end
    from as_of

),

checked_split as (

    select
        case
            when calibration_end < observation_end then calibration_end
            else
                error(
                    'clv_calibration_end (' || calibration_end || ') must be before the as-of date ('
                    || observation_end || '). Fix: --vars ''{clv_calibration_end: YYYY-MM-DD}'' with an earlier date.'
                )
        end as calibration_end,
        observation_end
    from split

),

split_points as (

    select
        'calibration' as split_point,
        calibration_end as as_of_date
    from checked_split
    union all
    select
        'observation' as split_point,
        observation_end as as_of_date
    from checked_split

),

transactions as (

    select
        customer_id,
        transaction_id,
        transacted_at,
        amount
    from {{ ref('int_transactions') }}

),

{{ rfm_btyd_ctes('transactions', 'split_points', ['split_point'], time_unit, multiplier) }},

final as (

    select
        cal.customer_id,
        checked_split.calibration_end,
        checked_split.observation_end,
        {{ rfm_period_start('cal.first_purchase_at', time_unit) }} as first_period_start,
        cal.frequency as frequency_cal,
        cal.recency as recency_cal,
        cal.T as T_cal,
        cal.monetary_value as monetary_value_cal,
        obs.frequency - cal.frequency as frequency_holdout,
        {{ rfm_periods_between(rfm_period_start('checked_split.calibration_end', time_unit),
                               rfm_period_start('checked_split.observation_end', time_unit), time_unit, multiplier) }} as duration_holdout
    from rfm_purchasers as cal
    inner join rfm_purchasers as obs
        on obs.customer_id = cal.customer_id and obs.split_point = 'observation'
    cross join checked_split
    where cal.split_point = 'calibration'
    -- the population of customer_rfm (customers known at the as-of date)
    and cal.customer_id in (
        select customer_id from {{ ref('customer_rfm') }}
        where frequency is not null
    )

)

select * from final
