"""The segment backtest (segkit.backtest.run_backtest): at each cutoff, which
customers each segmentation calls High, against the top share of the next
window's value; precision, recall and lift per method and cutoff."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.dbt_steps import backtest_columns, backtest_step, read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    columns = ", ".join(f'"{c}"' for c in backtest_columns())  # only what the backtest reads
    return backtest_step(dbt.ref("backtest_cutoff_features").select(columns).df(), settings)
