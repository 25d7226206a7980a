{#- One row per BTYD model fitted on the calibration period: its log-likelihood,
    AIC, BIC and number of parameters (clv_calibration_parameters) and its holdout
    error, the mean absolute error of predicted vs actual holdout repeat purchases
    per customer (clv_holdout_predictions joined to clv_calibration_holdout). Rank
    1 = the lowest holdout error, ties by the lower AIC, then the model name: the
    model clv_forecast_model = auto feeds customer_clv_forecast. -#}
with fits as (

    select
        model,
        any_value(log_likelihood) as log_likelihood,
        any_value(aic) as aic,
        any_value(bic) as bic,
        any_value(n_parameters) as n_parameters,
        any_value(n_customers) as n_customers,
        bool_and(coalesce(converged, false)) as converged,
        any_value(note) as note
    from {{ ref('clv_calibration_parameters') }}
    group by model

),

errors as (

    select
        predictions.model,
        count(*) as n_holdout_customers,
        -- exact decimals: the same bytes on every run
        cast(avg({{ exact_value('abs(predictions.predicted_holdout_purchases - holdout.frequency_holdout)') }}) as double precision)
            as holdout_mae,
        cast(avg({{ exact_value('predictions.predicted_holdout_purchases - holdout.frequency_holdout') }}) as double precision)
            as holdout_mean_error,
        cast(sum({{ exact_value('predictions.predicted_holdout_purchases') }}) as double precision) as predicted_holdout_purchases,
        sum(holdout.frequency_holdout) as actual_holdout_purchases
    from {{ ref('clv_calibration_holdout') }} as holdout
    inner join {{ ref('clv_holdout_predictions') }} as predictions
        on
            predictions.frequency_cal = holdout.frequency_cal
            and predictions.recency_cal = holdout.recency_cal
            and predictions.T_cal = holdout.T_cal
            and predictions.duration_holdout = holdout.duration_holdout
    group by predictions.model

),

split as (

    select
        any_value(calibration_end) as calibration_end,
        any_value(observation_end) as observation_end
    from {{ ref('clv_calibration_holdout') }}

),

final as (

    select
        fits.model,
        split.calibration_end,
        split.observation_end,
        fits.n_parameters,
        fits.n_customers,
        fits.log_likelihood,
        fits.aic,
        fits.bic,
        errors.holdout_mae,
        errors.holdout_mean_error,
        errors.predicted_holdout_purchases,
        errors.actual_holdout_purchases,
        fits.converged,
        fits.note,
        case
            when errors.holdout_mae is not null then
                row_number() over (
                    partition by errors.holdout_mae is not null
                    order by errors.holdout_mae, fits.aic, fits.model
                )
        end as holdout_rank
    from fits
    left join errors using (model)
    cross join split

)

select * from final
