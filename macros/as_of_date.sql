{#- The date every time-relative figure is computed at: setting('as_of_date') when
    set, else the latest date among the rows used (the canonical inputs, after
    staging rejected what it could not use). Never current_date. -#}
{% macro as_of_date() -%}
  {%- set configured = setting('as_of_date') -%}
  {%- if configured is not none -%}
    cast('{{ configured }}' as date)
  {%- else -%}
    (select cast(max(d) as date) from (
        select max(transacted_at) as d from {{ ref('int_transactions') }}
        union all select max(event_at) from {{ ref('int_events') }}
        union all select max(started_at) from {{ ref('int_subscriptions') }}
        -- a scheduled end (later than the plausible window) has not happened yet
        union all select max(ended_at) from {{ ref('int_subscriptions') }} where ended_at < {{ input_date_window().high }}
        union all select max(signed_up_at) from {{ ref('int_customers') }}
    ))
  {%- endif -%}
{%- endmacro %}


{#- A one-row select of the as-of bounds: as_of_at (the as-of date as a
    timestamp), as_of_end (the first instant after that day) and as_of_month. -#}
{% macro as_of_bounds() %}
    select
        cast(as_of_date as timestamp)                                as as_of_at,
        {{ as_of_end('as_of_date') }}                                as as_of_end,
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date)    as as_of_month
    from (select {{ as_of_date() }} as as_of_date) as d
{% endmacro %}


{#- The first instant after the as-of day `as_of_date` (a date expression):
    everything strictly before it is known at the as-of date, nothing from it on. -#}
{% macro as_of_end(as_of_date) -%}
  (cast({{ as_of_date }} as timestamp) + interval 1 day)
{%- endmacro %}


{#- The one test of "open at the as-of date" for a subscription period (`period`
    is the relation alias with started_at and ended_at; `as_of_end` the first
    instant after the as-of day, as_of_bounds().as_of_end): started before the
    end of the as-of day (or no start recorded) and not ended by then. A period
    that ended during the as-of day (e.g. 23:13 on it) is not open; one ending
    after the as-of day is, since that end is not known yet. -#}
{% macro is_open_at_as_of(period, as_of_end) -%}
  ({{ is_started_by_as_of(period, as_of_end) }}
    and ({{ period }}.ended_at is null or {{ period }}.ended_at >= {{ as_of_end }}))
{%- endmacro %}


{#- A subscription period known at the as-of date: started before the end of the
    as-of day, or no start recorded (the telecom snapshot). Later periods do not
    count anywhere. -#}
{% macro is_started_by_as_of(period, as_of_end) -%}
  ({{ period }}.started_at is null or {{ happened_by_as_of(period ~ '.started_at', as_of_end) }})
{%- endmacro %}


{#- The one as-of cut-off: did an instant `column` (a timestamp) happen by the
    as-of date, i.e. strictly before `as_of_end` (as_of_end(), the first
    instant after the as-of day)? Everything on the as-of day counts; nothing
    after it. Null stays null (unknown). -#}
{% macro happened_by_as_of(column, as_of_end) -%}
  ({{ column }} < {{ as_of_end }})
{%- endmacro %}


{#- A customer known at the as-of date: signed up before the end of the as-of
    day, or with no sign-up date recorded (derived customers, the telecom
    snapshot). A later sign-up is not known yet: the customer is in no
    as-of-date population (customer_rfm, customer_feature_ctes). -#}
{% macro is_signed_up_by_as_of(customer, as_of_end) -%}
  ({{ customer }}.signed_up_at is null or {{ happened_by_as_of(customer ~ '.signed_up_at', as_of_end) }})
{%- endmacro %}


{#- `column` (a timestamp) happened by the build's as-of date: happened_by_as_of
    against the end of as_of_date(). -#}
{% macro is_on_or_before_as_of(column) -%}
  {{ happened_by_as_of(column, as_of_end(as_of_date())) }}
{%- endmacro %}
