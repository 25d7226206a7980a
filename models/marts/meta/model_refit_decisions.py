"""Refit or reuse: one row per Python step that records model versions (today the
BTYD forecast fit, clv_forecast_parameters), with the drift of its input from the
last recorded version, the threshold, and the version the build used
(segkit.refit: the same plan the step made, on the same inputs)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import read_settings
    from segkit.refit import clv_decisions_step, read_versions, resolved_as_of_date

    run_settings = dbt.ref("run_settings")
    settings = read_settings(run_settings.select("setting_name, value_json").fetchall())
    as_of_date = resolved_as_of_date(run_settings.select("resolved_as_of_date").limit(1).fetchall())
    return clv_decisions_step(dbt.ref("customer_rfm").df(), dbt.ref("clv_forecast_parameters").df(), settings,
                              read_versions(session, dbt.this), as_of_date)
