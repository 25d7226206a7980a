"""Cluster customers (K-means++ and/or DBSCAN) on the materialised feature table.

All logic is in segkit.clustering / segkit.dbt_steps (unit-tested by pytest); the
configuration comes from run_settings (vars cluster_*). With model_refit = on_drift
the K-means fit of the last recorded version (the carried model_versions, read
through the session: a ref would be a cycle) labels the customers instead when
their features have not drifted (segkit.refit.plan_cluster_refit; the decision:
model_refit_decisions). DBSCAN always refits.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import clustering_step, read_settings
    from segkit.refit import read_versions, resolved_as_of_date

    run_settings = dbt.ref("run_settings")
    settings = read_settings(run_settings.select("setting_name, value_json").fetchall())
    as_of_date = resolved_as_of_date(run_settings.select("resolved_as_of_date").limit(1).fetchall())
    features = dbt.ref("cluster_input").df()
    return clustering_step(features, settings, read_versions(session, dbt.this), as_of_date)
