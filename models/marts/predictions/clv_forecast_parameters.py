"""BG/NBD and Gamma-Gamma (segkit.btyd via segkit.dbt_steps.fit_clv_models), then
Pareto/NBD and MBG/NBD (segkit.btyd_family), fitted by maximum likelihood on
customer_rfm: one row per model parameter, with its standard error and the
model's log-likelihood, AIC and BIC. With model_refit = on_drift the last recorded
version (the carried model_versions) is reused instead when its input has not
drifted (segkit.refit.clv_parameters_step; the decision: model_refit_decisions)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import read_settings
    from segkit.refit import clv_parameters_step, read_versions, resolved_as_of_date

    run_settings = dbt.ref("run_settings")
    settings = read_settings(run_settings.select("setting_name, value_json").fetchall())
    as_of_date = resolved_as_of_date(run_settings.select("resolved_as_of_date").limit(1).fetchall())
    rfm = dbt.ref("customer_rfm").df()
    return clv_parameters_step(rfm, settings, read_versions(session, dbt.this), as_of_date)
