"""Expected number of customers with 0..6 and 7+ repeat purchases in the
calibration period per model (segkit.btyd_family.expected_period_counts_step),
read by clv_period_histogram."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import expected_period_counts_step

    return expected_period_counts_step(dbt.ref("clv_calibration_holdout").df(),
                                       dbt.ref("clv_calibration_parameters").df())
