"""Churn probability, risk band and (in run_info) the model's metrics and
permutation-importance drivers: segkit.churn via segkit.dbt_steps.churn_step."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import churn_step, read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    return churn_step(dbt.ref("churn_model_input").df(), settings)
