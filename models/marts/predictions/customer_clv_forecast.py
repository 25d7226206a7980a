"""Predicted CLV per customer from the fitted parameters
(segkit.dbt_steps.score_clv): P(alive), expected purchases, expected spend,
discounted CLV over the horizon."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import read_settings, score_clv

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    rfm = dbt.ref("customer_rfm").df()
    params = dbt.ref("clv_forecast_parameters").df()
    return score_clv(rfm, params, settings)
