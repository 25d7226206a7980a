"""What each Python model step did with the data at hand: fitted, reduced
(fewer CV folds, a smaller k, rare classes left out) or skipped, with the
reason (segkit.dbt_steps.fit_log_step, the same rules the steps apply); a BTYD
fit reused from a recorded version (model_refit_decisions) names the version."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import fit_log_step, read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    return fit_log_step(
        settings,
        churn_input=dbt.ref("churn_model_input").select("split, is_churned_next, plan_level, tier_change_next").df(),
        cluster_input=dbt.ref("cluster_input").df(),
        clv_parameters=dbt.ref("clv_forecast_parameters").df(),
        backtest_metrics=dbt.ref("segment_backtest").df(),
        refit_decisions=dbt.ref("model_refit_decisions").df(),
    )
