"""Expected cumulative repeat purchases per model and week of the calibration
cohort (segkit.btyd_family.expected_tracking_step), read by clv_repeat_tracking."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import expected_tracking_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    return expected_tracking_step(dbt.ref("clv_calibration_holdout").df(),
                                  dbt.ref("clv_calibration_parameters").df(), settings)
