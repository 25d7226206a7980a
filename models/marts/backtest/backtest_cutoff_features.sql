{#- The segment backtest's input: one row per (cutoff_date, customer_id) for
    several rolling cutoffs, with the RFM inputs, BTYD values, RFM segment and
    engagement features computed ONLY from data up to the cutoff (the same
    macros customer_rfm uses), and next_value = net spend in the window
    (cutoff, cutoff + var backtest_window_days]. Cutoffs: var backtest_cutoffs, or
    the var backtest_cutoff_count cutoffs spaced one window apart whose windows end
    at the as-of date. -#}
{%- set window_days = setting('backtest_window_days') | int -%}
{%- set time_unit = setting('rfm_time_unit') -%}
{%- set multiplier = setting('rfm_freq_multiplier') -%}
{#- the backtest scores RFM on the measures every snapshot has (var
    backtest_rfm_scoring, default: the standard scheme) with the standard map -#}
{%- set scheme = rfm_scheme(overrides=setting('backtest_rfm_scoring'), var_name='backtest_rfm_scoring') %}

with cutoffs as (

    {{ backtest_cutoffs() }}

),

-- the point-in-time features and the window's outcome at each cutoff, built in a
-- table of their own (int_backtest_point_in_time_features)
cutoff_features as (

    select * from {{ ref('int_backtest_point_in_time_features') }}

),

cutoff_as_of as (

    select
        cutoff_date,
        cutoff_date as as_of_date
    from cutoffs

),

-- the same BTYD summary as customer_rfm, once per cutoff
{{ rfm_btyd_ctes(ref('int_transactions'), 'cutoff_as_of', ['cutoff_date'], time_unit, multiplier) }},

purchasers as (

    select
        features.*,
        btyd.frequency,
        btyd.recency,
        btyd.T,
        btyd.monetary_value
    from cutoff_features as features
    inner join rfm_purchasers as btyd using (cutoff_date, customer_id)

),

{{ rfm_segment_ctes('purchasers', ['cutoff_date'], scheme, setting('backtest_rfm_segment_map')) }},

final as (

    select
        scored.* exclude (r_score, f_score, m_score),
        coalesce(combination_segments.segment, 'Unmapped') as rfm_segment,
        {{ window_days }} as window_days
    from scored
    left join combination_segments using (r_score, f_score, m_score)

)

select * from final
