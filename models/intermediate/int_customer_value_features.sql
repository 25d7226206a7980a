{{ config(materialized='table') }}
{#- One row per customer: the candidate features of the weighted clv_score
    (any numeric column can be named in the clv_score weights), the customer's
    historical value under the resolved var('clv_source'), and whether they are
    active or lapsed, at the build's as-of date. The features are the one
    point-in-time definition (customer_feature_ctes in
    macros/customer_features.sql) that churn_model_input and backtest_cutoff_features
    use at their cutoffs. Built as a table: customer_clv, customer_features,
    churn_by_segment and demographic_segment_profile all read it.

    Null conventions: counts and sums are 0 for a customer without rows when the
    dataset has that input, and null when the dataset has no such input at all;
    averages and ratios are null where undefined (no purchase, no quiz, ...). -#}
{%- set source = setting('clv_source') -%}

with as_of_cutoff as (

    select cast({{ as_of_date() }} as date) as cutoff_date

),

{{ customer_feature_ctes('as_of_cutoff') }},

as_of as (

    select
        cutoff_date                                                  as as_of_date,
        cast(cutoff_date as timestamp)                               as as_of_at,
        cutoff_end                                                   as as_of_end
    from pit_cutoffs

),

periods as (

    select * from {{ ref('int_subscriptions') }}

),

-- subscription revenue billed up to the as-of date: the billing rule
-- (macros/billing.sql), the same months as tenure_months
subscription_value as (

    select
        periods.customer_id,
        sum({{ billed_revenue('periods', 'as_of.as_of_end') }}) as subscription_revenue,
        min(periods.started_at)                                      as first_started_at
    from periods
    cross join as_of
    where {{ is_started_by_as_of('periods', 'as_of.as_of_end') }}
    group by periods.customer_id

),


valued as (

    select
        features.*,
        cast(features.plan_level = {{ sql_literal(setting('premium_plan_level')) }} as integer) as is_premium,
        subscription_value.subscription_revenue,
        -- the CLV source this build uses, resolved from setting('clv_source')
        {%- if source == 'auto' %}
        case
            when features.has_transactions_input and features.has_subscriptions_input then 'combined'
            when features.has_transactions_input then 'transactions'
            else 'subscription'
        end
        {%- else %}
        {{ sql_literal(source) }}
        {%- endif %}                                                                as clv_source
    from pit_features as features
    left join subscription_value on subscription_value.customer_id = features.customer_id

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
        is_active                                                                   as is_active_customer
    from valued

)

select
    *,
    has_value_history and not is_active_customer as is_lapsed
from final
