{#- One wide row per customer (all customers): the behavioural, purchase and
    subscription features the Python clustering step reads (var cluster_input).
    Computed in one pass over the inputs by int_customer_value_features; this
    mart fixes the published column set and types.
    Nulls: counts and sums are 0 when the customer has none (null only when the
    dataset lacks that input entirely); averages and ratios are null where
    undefined (no order, no quiz, no enrolment...). The Python step imputes. -#}

with features as (

    select * from {{ ref('int_customer_value_features') }}

),

final as (

    select
        customer_id,
        cast(orders as bigint)                          as orders,
        cast(total_spend as double)                     as total_spend,
        cast(avg_order_value as double)                 as avg_order_value,
        cast(days_since_last_purchase as bigint)        as days_since_last_purchase,
        cast(tenure_days as bigint)                     as tenure_days,
        cast(active_days as bigint)                     as active_days,
        cast(events as bigint)                          as events,
        cast(watch_minutes as double)                   as watch_minutes,
        cast(sessions as bigint)                        as sessions,
        cast(avg_session_minutes as double)             as avg_session_minutes,
        cast(courses_enrolled as bigint)                as courses_enrolled,
        cast(courses_completed as bigint)               as courses_completed,
        cast(completion_rate as double)                 as completion_rate,
        cast(quiz_avg as double)                        as quiz_avg,
        cast(nps_avg as double)                         as nps_avg,
        cast(support_contacts as bigint)                as support_contacts,
        plan_level,
        cast(monthly_amount as double)                  as monthly_amount,
        cast(tenure_months as bigint)                   as tenure_months,
        cast(call_duration as double)                   as call_duration,
        cast(data_usage as double)                      as data_usage,
        cast(subscription_revenue as double)            as subscription_revenue,
        cast(historical_value as double)                as historical_value,
        cast(is_lapsed as integer)                      as is_lapsed
    from features

)

select * from final
