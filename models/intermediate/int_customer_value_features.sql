{{ config(materialized='table') }}
{#- One row per customer: the candidate features of the weighted clv_score
    (any numeric column can be named in the clv_score weights), the customer's
    historical value under the resolved var('clv_source'), and whether they are
    active or lapsed. Built as a table: it is the single aggregation pass over
    int_transactions and int_events that customer_clv, customer_features,
    churn_by_segment and demographic_segment_profile all read.

    Null conventions: counts and sums are 0 for a customer without rows when the
    dataset has that input, and null when the dataset has no such input at all;
    averages and ratios are null where undefined (no purchase, no quiz, ...). -#}
{%- set ev = feature_event_names() -%}
{%- set source = setting('clv_source') -%}

with customers as (

    select * from {{ ref('int_customers') }}

),

subscription as (

    select * from {{ ref('int_customer_subscription_status') }}

),

periods as (

    select * from {{ ref('int_subscriptions') }}

),

transactions as (

    select * from {{ ref('int_transactions') }}

),

events as (

    select * from {{ ref('int_events') }}

),

as_of as (

    select
        as_of_date,
        cast(as_of_date as timestamp)                                as as_of_at,
        -- everything up to the end of the as-of day counts
        {{ as_of_end('as_of_date') }}                                as as_of_end
    from (select {{ as_of_date() }} as as_of_date) as d

),

-- which inputs the dataset has (read from the relations, not the CTEs above:
-- a CTE referenced twice is materialised, and at 50M events DuckDB then hangs)
inputs as (

    select
        exists (select 1 from {{ ref('int_transactions') }})  as has_transactions_input,
        exists (select 1 from {{ ref('int_subscriptions') }}) as has_subscriptions_input,
        exists (select 1 from {{ ref('int_events') }})        as has_events_input

),

-- subscription revenue billed: each period's bill x its whole months (the
-- dataset's tenure_months when given, else calendar-month boundaries from its
-- start to its end or the as-of date), the same month count as tenure_months
subscription_value as (

    select
        periods.customer_id,
        sum(periods.monthly_amount * coalesce(
            periods.tenure_months,
            {{ dbt.datediff('periods.started_at', 'least(coalesce(periods.ended_at, as_of.as_of_at), as_of.as_of_at)', 'month') }}
        ))                                                           as subscription_revenue,
        min(periods.started_at)                                      as first_started_at
    from periods
    cross join as_of
    where {{ is_started_by_as_of('periods', 'as_of.as_of_end') }}
    group by periods.customer_id

),

-- one pass over transactions up to the as-of date; refunds (negative amounts)
-- reduce spend but are not orders
transaction_features as (

    select
        transactions.customer_id,
        count(*) filter (where transactions.amount >= 0)             as orders,
        sum(transactions.amount)                                     as total_spend,
        min(transactions.transacted_at) filter (where transactions.amount >= 0) as first_purchase_at,
        max(transactions.transacted_at) filter (where transactions.amount >= 0) as last_purchase_at,
        min(transactions.transacted_at)                              as first_transaction_at
    from transactions
    -- a scalar filter, not a join with as_of: DuckDB pushes it into the scan
    where transactions.transacted_at < (select as_of_end from as_of)
    group by transactions.customer_id

),

-- one pass over events up to the as-of date, every feature a FILTER clause
event_features as (

    select
        events.customer_id,
        count(*)                                                     as events,
        count(distinct cast(events.event_at as date))                as active_days,
        count(*) filter (where events.event_name = {{ sql_literal(ev.session) }})       as sessions,
        avg(events.value) filter (where events.event_name = {{ sql_literal(ev.session) }}) as avg_session_minutes,
        coalesce(sum(events.value) filter (where events.event_name = {{ sql_literal(ev.video) }}), 0) as watch_minutes,
        count(distinct events.object_id) filter (where events.event_name = {{ sql_literal(ev.enrolment) }}) as courses_enrolled,
        count(distinct events.object_id) filter (where events.event_name = {{ sql_literal(ev.completion) }}) as courses_completed,
        avg(events.value) filter (where events.event_name = {{ sql_literal(ev.quiz) }})  as quiz_avg,
        avg(events.value) filter (where events.event_name = {{ sql_literal(ev.nps) }})   as nps_avg,
        count(*) filter (where events.event_name = {{ sql_literal(ev.support) }})       as support_contacts,
        min(events.event_at)                                         as first_event_at,
        max(events.event_at)                                         as last_event_at
    from events
    where events.event_at < (select as_of_end from as_of)
    group by events.customer_id

),

joined as (

    select
        customers.customer_id,
        subscription.plan_level,
        subscription.plan_type,
        subscription.monthly_amount,
        subscription.tenure_months,
        customers.call_duration,
        customers.data_usage,
        cast(subscription.plan_level = {{ sql_literal(setting('premium_plan_level')) }} as integer) as is_premium,
        coalesce(subscription.is_churned, false)                                   as is_churned,
        subscription.customer_id is not null                                        as has_subscription,
        -- the latest period started by the as-of date is open then (is_open_at_as_of)
        coalesce(subscription.has_active_subscription, false)                       as has_active_subscription,
        subscription_value.subscription_revenue,

        -- transactions (0 / null conventions above)
        case when inputs.has_transactions_input then coalesce(transaction_features.orders, 0) end      as orders,
        case when inputs.has_transactions_input then coalesce(transaction_features.total_spend, 0) end as total_spend,
        transaction_features.first_purchase_at,
        transaction_features.last_purchase_at,
        {{ dbt.datediff('transaction_features.last_purchase_at', 'as_of.as_of_date', 'day') }}         as days_since_last_purchase,

        -- first sign of the customer: sign-up, else the earliest purchase,
        -- subscription or event
        coalesce(
            customers.signed_up_at,
            least(transaction_features.first_transaction_at, subscription_value.first_started_at, event_features.first_event_at)
        )                                                                           as first_seen_at,

        -- engagement
        case when inputs.has_events_input then coalesce(event_features.events, 0) end             as events,
        case when inputs.has_events_input then coalesce(event_features.active_days, 0) end        as active_days,
        case when inputs.has_events_input then coalesce(event_features.sessions, 0) end           as sessions,
        event_features.avg_session_minutes,
        case when inputs.has_events_input then coalesce(event_features.watch_minutes, 0) end      as watch_minutes,
        case when inputs.has_events_input then coalesce(event_features.courses_enrolled, 0) end   as courses_enrolled,
        case when inputs.has_events_input then coalesce(event_features.courses_completed, 0) end  as courses_completed,
        event_features.quiz_avg,
        event_features.nps_avg,
        case when inputs.has_events_input then coalesce(event_features.support_contacts, 0) end   as support_contacts,
        event_features.last_event_at,

        -- the CLV source this build uses, resolved from var('clv_source')
        {%- if source == 'auto' %}
        case
            when inputs.has_transactions_input and inputs.has_subscriptions_input then 'combined'
            when inputs.has_transactions_input then 'transactions'
            else 'subscription'
        end
        {%- else %}
        {{ sql_literal(source) }}
        {%- endif %}                                                                as clv_source,
        as_of.as_of_date,
        as_of.as_of_end
    from customers
    cross join as_of
    cross join inputs
    left join subscription on subscription.customer_id = customers.customer_id
    left join subscription_value on subscription_value.customer_id = customers.customer_id
    left join transaction_features on transaction_features.customer_id = customers.customer_id
    left join event_features on event_features.customer_id = customers.customer_id

),

derived as (

    select
        *,
        -- total_spend / orders in exact decimal arithmetic (DuckDB divides
        -- decimals in DOUBLE): integer division of cents, rounded half away from
        -- zero at 12 decimals, so clv_score rounds exact .xx5 values correctly
        case when orders > 0 then
            sign(total_spend) * cast(
                (abs(cast(total_spend * 100 as hugeint)) * 20000000000 + orders) // (2 * orders)
            as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12))
        end                                                                         as avg_order_value,
        case when first_seen_at < as_of_end
            then {{ dbt.datediff('first_seen_at', 'as_of_date', 'day') }}
        end                                                                         as tenure_days,
        -- completed / enrolled courses, capped at 1 (a completion logged
        -- without its enrolment must not push the rate above 100%)
        case when courses_enrolled > 0
            then least({{ safe_divide('courses_completed', 'courses_enrolled') }}, 1.0)
        end                                                                         as completion_rate,
        -- a purchase within the inactivity window (macros/active.sql)
        {{ is_recent_purchase('last_purchase_at', 'as_of_end') }}                   as is_recent_buyer
    from joined

),

valued as (

    select
        *,
        -- historical value under the resolved source
        cast(case clv_source
            when 'subscription' then coalesce(subscription_revenue, 0)
            when 'transactions' then coalesce(total_spend, 0)
            else coalesce(total_spend, 0) + coalesce(subscription_revenue, 0)
        end as decimal(18, 2))                                                      as historical_value,
        case clv_source
            when 'subscription' then has_subscription
            when 'transactions' then coalesce(orders, 0) > 0
            else has_subscription or coalesce(orders, 0) > 0
        end                                                                         as has_value_history,
        -- "active", the one definition (macros/active.sql)
        {{ is_active_at_as_of('has_active_subscription', 'last_purchase_at', 'as_of_end') }} as is_active_customer
    from derived

),

final as (

    select
        customer_id,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        call_duration,
        data_usage,
        is_premium,
        is_churned,
        has_subscription,
        has_active_subscription,
        subscription_revenue,
        orders,
        total_spend,
        avg_order_value,
        first_purchase_at,
        last_purchase_at,
        days_since_last_purchase,
        is_recent_buyer,
        first_seen_at,
        tenure_days,
        events,
        active_days,
        sessions,
        avg_session_minutes,
        watch_minutes,
        courses_enrolled,
        courses_completed,
        completion_rate,
        quiz_avg,
        nps_avg,
        support_contacts,
        last_event_at,
        clv_source,
        historical_value,
        has_value_history,
        is_active_customer,
        has_value_history and not is_active_customer                                as is_lapsed
    from valued

)

select * from final
