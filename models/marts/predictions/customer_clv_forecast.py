"""Predicted CLV per customer from the fitted parameters of the BTYD model the
setting clv_forecast_model picks (segkit.btyd_family.score_step; auto = rank 1 of
clv_model_comparison): P(alive), expected purchases, expected spend, discounted
CLV over the horizon, and forecast_model naming the model."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.btyd_family import score_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    rfm = dbt.ref("customer_rfm").df()
    params = dbt.ref("clv_forecast_parameters").df()
    comparison = dbt.ref("clv_model_comparison").df()
    return score_step(rfm, params, comparison, settings)
