"""Per subscription period open at the as-of date (sbg_input), from its plan
level's sBG (sbg_parameters; the pooled fit when its level has none), by
segkit.contractual.sbg_residual_value_step: the probability of the next renewal,
the expected further renewals, the discounted expected residual lifetime (DERL,
Fader & Hardie 2010) and contractual CLV = payment per period x DERL."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.contractual import sbg_residual_value_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    open_periods = dbt.ref("sbg_input").filter("status_at_as_of = 'open'").select(
        "subscription_id, customer_id, plan_level, monthly_amount, renewals_at_as_of").df()
    params = dbt.ref("sbg_parameters").df()
    return sbg_residual_value_step(open_periods, params, settings)
