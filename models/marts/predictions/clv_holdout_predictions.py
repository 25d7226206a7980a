"""Predicted holdout purchases and P(alive) at the calibration end per model and
unique calibration summary (segkit.btyd_family.holdout_predictions_step); SQL
joins them back to customers (clv_model_comparison, clv_holdout_by_frequency)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import holdout_predictions_step

    return holdout_predictions_step(dbt.ref("clv_calibration_holdout").df(),
                                    dbt.ref("clv_calibration_parameters").df())
