{#- The subscription billing rule, the one definition (docs/DESIGN.md, "One home
    per concept"). Every table that computes subscription revenue or billed months
    uses these macros: int_customer_value_features (subscription_revenue),
    int_customer_subscription_status (tenure_months), subscription_summary
    (revenue), cohort_retention (subscription_revenue per month).

    A subscription period is billed in advance, one monthly_amount per billing
    cycle: at its start and at every monthly anniversary of its start before it
    ends, up to the end of the as-of day (a period open at the as-of date has
    billed its current cycle; nothing after the as-of date is billed). A period
    that starts and ends within a month bills once; the k-th bill falls in the
    k-th calendar month after the start month (cohort_retention's monthly
    revenue), so the as-of month bills every period open then. A plan change
    ends one period and starts another: the new plan bills from its own start.
    Where the dataset gives the period's length in months (tenure_months: the
    telecom study, which has no dates) that count is used instead. Where the
    dataset gives what a period was billed in total (billed_amount: LITA) and the
    period has ended by the as-of date, that amount is its revenue; a period not
    ended by then bills by the cycles rule.

    Arguments are SQL expressions: `period` the relation alias with started_at,
    ended_at, monthly_amount, tenure_months and billed_amount; `as_of_end` the
    first instant after the as-of day (as_of_end(), as_of_bounds()). Callers keep only the periods started by the as-of date
    (is_started_by_as_of). -#}


{#- The calendar month of a period's first bill (its start month; null when it
    has no start date). Its k-th bill falls in the k-th month after it. -#}
{% macro billing_start_month(period) -%}
  cast({{ dbt.date_trunc('month', period ~ '.started_at') }} as date)
{%- endmacro %}


{#- The instant a period stops billing: its end, or the end of the as-of day
    while it is open or ends later (an end after the as-of date is not known). -#}
{% macro billing_stop(period, as_of_end) -%}
  least(coalesce({{ period }}.ended_at, {{ as_of_end }}), {{ as_of_end }})
{%- endmacro %}


{#- Billing cycles a period has started by the as-of date: its start, and every
    monthly anniversary of its start (clamped to the month's last day: Jan 31 ->
    Feb 29 -> Mar 31) before it stops (billing_stop). With m = the calendar-month
    boundaries from start to stop, the anniversaries 0..m-1 are always before the
    stop, and the m-th is when it falls before it too. 0 for a period that ends
    at the instant it starts; null when it has no start date. -#}
{% macro billing_cycles(period, as_of_end) -%}
  {%- set stop = billing_stop(period, as_of_end) -%}
  {%- set m = dbt.datediff(period ~ '.started_at', stop, 'month') -%}
  greatest(0, {{ m }} + case when {{ period }}.started_at + to_months(cast({{ m }} as integer)) < {{ stop }} then 1 else 0 end)
{%- endmacro %}


{#- Months billed: the dataset's tenure_months when given, else the billing
    cycles started by the as-of date. -#}
{% macro billed_months(period, as_of_end) -%}
  coalesce({{ period }}.tenure_months, {{ billing_cycles(period, as_of_end) }})
{%- endmacro %}


{#- A period's subscription revenue up to the as-of date (decimal(18,2)): its
    billed_amount when the data gives one and the period has ended by the as-of
    date, else monthly_amount x billed_months. -#}
{% macro billed_revenue(period, as_of_end) -%}
  cast(case
    when {{ period }}.billed_amount is not null and {{ period }}.ended_at < {{ as_of_end }}
      then {{ period }}.billed_amount
    else {{ period }}.monthly_amount * {{ billed_months(period, as_of_end) }}
  end as decimal(18, 2))
{%- endmacro %}


{#- The part of a period's billed revenue (`revenue`, its billed_revenue) that
    falls in its `month_index`-th billed calendar month (0 = the start month) of
    `months` (its billing_cycles): the revenue spread evenly in whole
    cents, the last month taking the remainder, so the months add up to
    billed_revenue exactly. When the revenue is monthly_amount x months (no
    billed_amount, no differing tenure_months) every month is monthly_amount. -#}
{% macro billed_month_amount(revenue, month_index, months) -%}
  (case
    when {{ month_index }} < {{ months }} - 1
      then cast(floor({{ revenue }} * 100 / {{ months }}) / 100 as decimal(18, 2))
    else {{ revenue }} - cast(floor({{ revenue }} * 100 / {{ months }}) / 100 as decimal(18, 2)) * ({{ months }} - 1)
  end)
{%- endmacro %}


{#- A period ended with a cancellation by the as-of date (the relationship
    ended, is_churned as the data defines it): the dataset's is_churned flag when
    it has one, else an end with end_reason 'cancel' (or no reason); an end after
    the as-of date is not known yet, so such a period is not cancelled. Upgrades
    and downgrades end a period without cancelling. -#}
{% macro is_cancelled_by_as_of(period, as_of_end) -%}
  (case
    when {{ period }}.ended_at >= {{ as_of_end }} then false
    else coalesce({{ period }}.is_churned,
                  {{ period }}.ended_at is not null and coalesce({{ period }}.end_reason, 'cancel') = 'cancel')
  end)
{%- endmacro %}


{#- A period ended (for any reason: cancel, upgrade, downgrade) by the as-of
    date; a dataset with a churn flag but no dates (telecom) ends a period when
    the flag says so. -#}
{% macro is_ended_by_as_of(period, as_of_end) -%}
  (case
    when {{ period }}.ended_at is not null then {{ period }}.ended_at < {{ as_of_end }}
    else coalesce({{ period }}.is_churned, false)
  end)
{%- endmacro %}
