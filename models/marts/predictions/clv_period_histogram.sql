{#- The period-transactions histogram: customers with 0, 1, ..., 6 and 7+ repeat
    purchases in the calibration period, actual (clv_calibration_holdout) vs each
    model's expectation (clv_expected_period_counts: sum over customers of
    P(X(T) = x) at their calibration age T). -#}
with actual as (

    select
        least(frequency_cal, 7) as frequency_bucket,
        count(*) as actual_customers
    from {{ ref('clv_calibration_holdout') }}
    group by 1

),

final as (

    select
        expected.model,
        expected.frequency_bucket,
        expected.frequency_label,
        coalesce(actual.actual_customers, 0) as actual_customers,
        expected.expected_customers
    from {{ ref('clv_expected_period_counts') }} as expected
    left join actual using (frequency_bucket)

)

select * from final
