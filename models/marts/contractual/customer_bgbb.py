"""Per customer of bgbb_input, from bgbb_parameters (segkit.contractual.score_bgbb_step):
P(alive at the next opportunity) and the expected transactions in the next
bgbb_forecast_periods opportunities."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.contractual import score_bgbb_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    summary = dbt.ref("bgbb_input").select("customer_id, frequency, recency, n_opportunities").df()
    params = dbt.ref("bgbb_parameters").df()
    return score_bgbb_step(summary, params, settings)
