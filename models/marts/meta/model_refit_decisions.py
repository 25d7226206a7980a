"""Refit or reuse: one row per Python step and model that records versions (the BTYD
forecast fit, clv_forecast_parameters: one row for all its models; the clustering step,
customer_clusters: one row per method, models = kmeans or dbscan), with the drift of
its input from the last recorded version, the threshold, and the version the build
used (segkit.refit: the same plan the step made, on the same inputs). Key: (step, models)."""


def model(dbt, session):
    dbt.config(materialized="table")
    import pandas as pd

    from segkit.dbt_steps import read_settings
    from segkit.refit import cluster_decisions_step, clv_decisions_step, read_versions, resolved_as_of_date

    run_settings = dbt.ref("run_settings")
    settings = read_settings(run_settings.select("setting_name, value_json").fetchall())
    as_of_date = resolved_as_of_date(run_settings.select("resolved_as_of_date").limit(1).fetchall())
    versions = read_versions(session, dbt.this)
    clv = clv_decisions_step(dbt.ref("customer_rfm").df(), dbt.ref("clv_forecast_parameters").df(), settings,
                             versions, as_of_date)
    # one run_info per method (the same text on every row of it; .df() of the whole
    # table would copy it into every row)
    runs = dbt.ref("customer_clusters").aggregate("method, any_value(run_info) as run_info", "method").df()
    clusters = cluster_decisions_step(dbt.ref("cluster_input").df(), runs, settings, versions, as_of_date)
    frames = [f for f in (clv, clusters) if len(f)]
    return pd.concat(frames, ignore_index=True).sort_values(["step", "models"], ignore_index=True)
