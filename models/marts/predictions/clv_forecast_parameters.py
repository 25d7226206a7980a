"""BG/NBD and Gamma-Gamma fitted by maximum likelihood on customer_rfm
(segkit.btyd via segkit.dbt_steps.fit_clv_models): one row per model parameter."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import fit_clv_models, read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    rfm = dbt.ref("customer_rfm").df()
    return fit_clv_models(rfm, settings)
