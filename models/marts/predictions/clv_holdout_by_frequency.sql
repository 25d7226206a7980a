{#- Mean actual vs predicted holdout repeat purchases by calibration frequency
    0, 1, ..., 6 and 7+ per model (FHL 2005, figure 4): customers of
    clv_calibration_holdout, predictions of clv_holdout_predictions. -#}
with joined as (

    select
        predictions.model,
        least(holdout.frequency_cal, 7) as frequency_bucket,
        holdout.frequency_holdout,
        predictions.predicted_holdout_purchases
    from {{ ref('clv_calibration_holdout') }} as holdout
    inner join {{ ref('clv_holdout_predictions') }} as predictions
        on
            predictions.frequency_cal = holdout.frequency_cal
            and predictions.recency_cal = holdout.recency_cal
            and predictions.T_cal = holdout.T_cal
            and predictions.duration_holdout = holdout.duration_holdout

),

final as (

    select
        model,
        frequency_bucket,
        case when frequency_bucket = 7 then '7+' else cast(frequency_bucket as varchar) end as frequency_label,
        count(*) as n_customers,
        cast(avg({{ exact_value('frequency_holdout') }}) as double precision) as actual_mean_holdout_purchases,
        cast(avg({{ exact_value('predicted_holdout_purchases') }}) as double precision) as predicted_mean_holdout_purchases
    from joined
    group by model, frequency_bucket

)

select * from final
