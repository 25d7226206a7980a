{#- On-run-start validation of the settings of the funnel and
    product/channel/geography marts (models/marts/funnel, models/marts/product),
    read with setting(); their defaults live in dbt_project.yml. -#}

{% macro validate_product_settings() %}
  {%- set identifier = '^[A-Za-z_][A-Za-z0-9_]*$' -%}

  {#- funnel_steps: ordered list of at least two distinct event names -#}
  {%- set steps = setting('funnel_steps') -%}
  {%- if not is_setting_list(steps) or (steps | length) < 2 -%}
    {{ settings_error('funnel_steps', "expected a list of at least two event names, got '" ~ steps ~ "'",
        "list the funnel's events in order, e.g. [signed_up, enrolled_in_course, completed_course]") }}
  {%- endif -%}
  {%- for step in steps -%}
    {%- if step is not string or (step | trim) == '' -%}
      {{ settings_error('funnel_steps', "step " ~ loop.index ~ " is '" ~ step ~ "', not an event name",
          "write every step as an event_name of int_events") }}
    {%- endif -%}
  {%- endfor -%}
  {%- if (steps | unique | list | length) != (steps | length) -%}
    {{ settings_error('funnel_steps', "an event name appears twice in " ~ steps,
        "list each event once (a step is reached by the first event at or after the previous step)") }}
  {%- endif -%}

  {%- set window = setting('funnel_window_days') -%}
  {%- if window is not none and (not is_setting_number(window) or window <= 0) -%}
    {{ settings_error('funnel_window_days', "'" ~ window ~ "' is not a positive number of days",
        "set e.g. 30 (every step within 30 days of step 1), or null for no window") }}
  {%- endif -%}

  {%- set match = setting('funnel_match_object') -%}
  {%- if match is not none and match is not boolean and not is_setting_list(match) -%}
    {{ settings_error('funnel_match_object', "'" ~ match ~ "' is not false, true or a list of event names",
        "list the final funnel steps that must share an object_id (e.g. [enrolled_in_course, completed_course]); true = steps 2..N; false = any object") }}
  {%- endif -%}
  {%- if is_setting_list(match) -%}
    {%- do funnel_object_from_step(steps, match) -%}
  {%- endif -%}

  {%- set dims = setting('funnel_dimensions') -%}
  {%- if dims is not none and not is_setting_list(dims) -%}
    {{ settings_error('funnel_dimensions', "expected a list of int_customers columns, got '" ~ dims ~ "'",
        "e.g. [country, referral_channel], or [] for none") }}
  {%- endif -%}
  {%- for dim in (dims or []) -%}
    {%- if dim is not string or not modules.re.match(identifier, dim) -%}
      {{ settings_error('funnel_dimensions', "'" ~ dim ~ "' is not a column name",
          "use columns of int_customers, e.g. country, region, referral_channel, age_group") }}
    {%- endif -%}
  {%- endfor -%}

  {#- product / cross-sell / channel -#}
  {%- set share = setting('product_laggard_share') -%}
  {%- if not is_setting_number(share) or share <= 0 or share >= 1 -%}
    {{ settings_error('product_laggard_share', "'" ~ share ~ "' is not a fraction strictly between 0 and 1",
        "e.g. 0.2 flags the products at or below the 20th revenue percentile") }}
  {%- endif -%}

  {%- if setting('cross_sell_level') not in ['category', 'product'] -%}
    {{ settings_error('cross_sell_level', "'" ~ setting('cross_sell_level') ~ "' is not allowed",
        "use 'category' (pairs of product categories) or 'product' (pairs of products)") }}
  {%- endif -%}

  {%- set basket = setting('cross_sell_basket') -%}
  {%- set renamed = {'customer': 'customer_lifetime', 'order_day': 'customer_day'} -%}
  {%- if basket in renamed -%}
    {{ settings_error('cross_sell_basket', "'" ~ basket ~ "' is no longer a basket name",
        "use '" ~ renamed[basket] ~ "' (the same basket), or 'order' (the default: one order)") }}
  {%- elif basket not in ['order', 'customer_day', 'customer_lifetime'] -%}
    {{ settings_error('cross_sell_basket', "'" ~ basket ~ "' is not allowed",
        "use 'order' (one order_id; a line without one: its customer-day), 'customer_day' (a customer's purchases of one day) or 'customer_lifetime' (everything a customer bought)") }}
  {%- endif -%}

  {%- set min_support = setting('cross_sell_min_support') -%}
  {%- if not is_setting_number(min_support) or min_support < 0 or min_support > 1 -%}
    {{ settings_error('cross_sell_min_support', "'" ~ min_support ~ "' is not a fraction from 0 to 1",
        "e.g. 0.01 keeps pairs bought together in at least 1% of baskets") }}
  {%- endif -%}

  {%- set rates = setting('channel_cost_rates') -%}
  {%- if rates is not none and rates is not mapping -%}
    {{ settings_error('channel_cost_rates', "expected a mapping channel: cost share, got '" ~ rates ~ "'",
        "e.g. {affiliate: 0.30, partner: 0.20}, or {} when costs are unknown") }}
  {%- endif -%}
  {%- for channel, rate in (rates or {}).items() -%}
    {%- if not is_setting_number(rate) or rate < 0 or rate > 1 -%}
      {{ settings_error('channel_cost_rates', "the cost share of '" ~ channel ~ "' is '" ~ rate ~ "'",
          "give each channel a cost share of net revenue between 0 and 1") }}
    {%- endif -%}
  {%- endfor -%}
  select 1 as product_settings_ok
{% endmacro %}
