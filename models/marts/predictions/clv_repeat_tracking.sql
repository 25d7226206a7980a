{#- Weekly tracking of repeat purchases of the calibration cohort (the customers of
    clv_calibration_holdout), actual vs each model's expectation
    (clv_expected_tracking), cumulative and incremental, as FHL 2005 figure 3 and
    lifetimes' expected_cumulative_transactions: week w covers the days
    start .. start + 7w - 1 from the cohort's earliest first purchase period; actual
    = the cohort's repeat purchase periods (rfm_btyd_ctes: the periods after each
    customer's first purchase period) starting in those days. -#}
{%- set time_unit = setting('rfm_time_unit') -%}
{%- set multiplier = setting('rfm_freq_multiplier') %}

with cohort as (

    select
        customer_id,
        first_period_start,
        observation_end
    from {{ ref('clv_calibration_holdout') }}

),

as_of as (

    select any_value(observation_end) as as_of_date from cohort

),

transactions as (

    select
        customer_id,
        transaction_id,
        transacted_at,
        amount
    from {{ ref('int_transactions') }}

),

{{ rfm_btyd_ctes('transactions', 'as_of', [], time_unit, multiplier) }},

start as (

    select min(first_period_start) as start_date from cohort

),

repeat_periods as (

    select
        cast(floor({{ dbt.datediff('start.start_date', 'periods.period_start', 'day') }} / 7) as integer) + 1 as week
    from rfm_customer_periods as periods
    inner join cohort using (customer_id)
    cross join start
    where
        periods.period_orders > 0
        and periods.period_start > cohort.first_period_start

),

weekly as (

    select
        week,
        count(*) as actual_incremental
    from repeat_periods
    group by week

),

split as (

    select any_value(calibration_end) as calibration_end from {{ ref('clv_calibration_holdout') }}

),

tracked as (

    select
        expected.model,
        expected.week,
        cast(expected.week_end as date) as week_end,
        cast(expected.week_end as date) <= split.calibration_end as is_calibration,
        coalesce(weekly.actual_incremental, 0) as actual_incremental,
        expected.expected_cumulative
    from {{ ref('clv_expected_tracking') }} as expected
    left join weekly using (week)
    cross join split

),

final as (

    select
        model,
        week,
        week_end,
        is_calibration,
        cast(sum(actual_incremental) over (partition by model order by week) as bigint) as actual_cumulative,
        expected_cumulative,
        actual_incremental,
        expected_cumulative - coalesce(lag(expected_cumulative) over (partition by model order by week), 0)
            as expected_incremental
    from tracked

)

select * from final
