"""The shifted-beta-geometric (sBG) retention model fitted by maximum likelihood on
sbg_input's calibration rows (segkit.contractual.fit_sbg_step): one row per
segment (all, and each plan level per sbg_segmentation) and parameter."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.contractual import fit_sbg_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    lifetimes = dbt.ref("sbg_input").select(
        "plan_level, renewals_at_calibration, is_lost_at_calibration").df()
    return fit_sbg_step(lifetimes, settings)
