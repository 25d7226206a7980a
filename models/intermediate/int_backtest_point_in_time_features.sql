{{ config(materialized='table') }}
{#- The segment backtest's point-in-time rows: one row per backtest cutoff
    (backtest_cutoffs, macros/backtest.sql) and customer known at it, with the
    features known at the cutoff and what happened in the var backtest_window_days
    days after it (cutoff_feature_ctes, the definition churn_model_input uses).
    backtest_cutoff_features adds the BTYD values and RFM segments. A table of its
    own so that the two queries do not hold their hash tables at the same time:
    one query of both needed 6.6 GB of buffer memory at 1,000,000 bench customers
    (16 GB at 2,500,000, where it ran out of disk spilling beside churn_model_input);
    apart, 3.6 GB and 4.3 GB, the same rows. -#}
{%- set window_days = setting('backtest_window_days') | int %}

with cutoffs as (

    {{ backtest_cutoffs() }}

),

{{ cutoff_feature_ctes('cutoffs', window_days) }}

select * from cutoff_features
