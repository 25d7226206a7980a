"""BG/NBD, Pareto/NBD and MBG/NBD fitted on the calibration period of
clv_calibration_holdout (segkit.btyd_family.calibration_parameters_step): one row
per model parameter with its standard error and the model's LL, AIC and BIC."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import calibration_parameters_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    return calibration_parameters_step(dbt.ref("clv_calibration_holdout").df(), settings)
