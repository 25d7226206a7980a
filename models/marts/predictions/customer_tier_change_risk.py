"""Probability of upgrade / downgrade / churn next window per active subscriber:
segkit.tier_change.fit_tier_change_model via segkit.dbt_steps.tier_change_step."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import read_settings, tier_change_step

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    return tier_change_step(dbt.ref("churn_model_input").df(), settings)
