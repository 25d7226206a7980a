"""BG/NBD and Gamma-Gamma (segkit.btyd via segkit.dbt_steps.fit_clv_models), then
Pareto/NBD and MBG/NBD (segkit.btyd_family), fitted by maximum likelihood on
customer_rfm: one row per model parameter, with its standard error and the
model's log-likelihood, AIC and BIC."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import fit_parameters_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    rfm = dbt.ref("customer_rfm").df()
    return fit_parameters_step(rfm, settings)
