"""The BG/BB model (Fader, Hardie & Shang 2010) fitted by maximum likelihood on
bgbb_input's unique (frequency, recency, n) rows (segkit.contractual.fit_bgbb_step):
one row per parameter, with standard errors, log-likelihood, AIC and BIC."""


def model(dbt, session):
    dbt.config(materialized="table")
    from segkit.contractual import fit_bgbb_step
    from segkit.dbt_steps import read_settings

    settings = read_settings(dbt.ref("run_settings").select("setting_name, value_json").fetchall())
    summary = dbt.ref("bgbb_input").select("customer_id, frequency, recency, n_opportunities").df()
    return fit_bgbb_step(summary, settings)
