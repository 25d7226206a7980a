{#- A customer's consecutive subscription periods: int_subscriptions holds one row
    per period (a plan change ends one period and starts the next), and a customer's
    periods follow one another by start, then subscription_id. -#}

{#- The CTEs `periods` (every subscription period) and `as_of` (as_of_bounds()) that
    a model over subscription periods starts from; the model decides what of a
    period is known at its cutoff (is_started_by_as_of, happened_by_as_of, ...). -#}
{% macro subscription_periods_ctes() -%}
periods as (

    select * from {{ ref('int_subscriptions') }}

),

as_of as (

    {{ as_of_bounds() }}

)
{%- endmacro %}


{#- The window over a customer's periods in order (periods aliased `relation`),
    for row_number / lag / lead: `window w as ({{ customer_period_order('periods') }})`. -#}
{% macro customer_period_order(relation) -%}
partition by {{ relation }}.customer_id order by {{ relation }}.started_at, {{ relation }}.subscription_id
{%- endmacro %}


{#- What identifies a subscription period and its plan (periods aliased `relation`):
    subscription_id, customer_id, plan_level, monthly_amount, started_at. -#}
{% macro subscription_period_columns(relation) -%}
{{ relation }}.subscription_id,
        {{ relation }}.customer_id,
        {{ relation }}.plan_level,
        {{ relation }}.monthly_amount,
        {{ relation }}.started_at
{%- endmacro %}
