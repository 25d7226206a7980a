"""Cluster customers (K-means++ and/or DBSCAN) on the materialised feature table.

All logic is in segkit.clustering / segkit.dbt_steps (unit-tested by pytest); the
configuration comes from run_settings (vars cluster_*).
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import clustering_step, read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    features = dbt.ref("cluster_input").df()
    return clustering_step(features, settings)
