{#- "Active" at an as-of date, the one definition (customer_clv's clv_population
    active, customer_features, churn_by_segment via int_customer_value_features,
    and churn_model_input / backtest_cutoff_features: all through customer_feature_ctes
    in macros/customer_features.sql).

    A customer is active at the as-of date when
      - a subscription period of theirs is open then (is_open_at_as_of in
        macros/as_of_date.sql), or
      - they made a purchase (a transaction with amount >= 0; refunds are not
        purchases) within the inactivity window: the var churn_inactivity_days
        (N) calendar days ending with the as-of day, both inclusive, i.e. from
        the start of day as_of_date - (N - 1) to the end of the as-of day. In
        days: days_since_last_purchase < N (N = 90: 0..89 days before the
        as-of date is recent; exactly 90 days before is lapsed).
    Otherwise a customer with a value history is lapsed.

    Arguments are SQL expressions: `has_open_subscription` a boolean (null =
    false), `last_purchase_at` the latest purchase up to the as-of date (a
    timestamp or date; null = none), `as_of_end` the first instant after the
    as-of day (as_of_end() / as_of_bounds()). -#}
{% macro is_recent_purchase(last_purchase_at, as_of_end) -%}
  coalesce(cast({{ last_purchase_at }} as timestamp) >= {{ as_of_end }} - interval ({{ setting('churn_inactivity_days') | int }}) day, false)
{%- endmacro %}

{% macro is_active_at_as_of(has_open_subscription, last_purchase_at, as_of_end) -%}
  (coalesce({{ has_open_subscription }}, false) or {{ is_recent_purchase(last_purchase_at, as_of_end) }})
{%- endmacro %}
