{#- Per (cutoff_date, customer_id) features computed only from data on or before
    each cutoff, plus what happened in the window after it: the input of the
    temporal churn / tier-change models and of the segment backtest.
    `cutoffs` is a relation (CTE name) with one column cutoff_date (date);
    window_days is the length of the following window. Emits CTEs; the caller
    selects from `snapshot_features`. -#}
{% macro snapshot_feature_ctes(cutoffs, window_days, inactivity_days) %}
snap_customers as (

    select cutoffs.cutoff_date, customers.customer_id, customers.signed_up_at,
        customers.country, customers.region, customers.age_group, customers.occupation,
        customers.referral_channel
    from {{ ref('int_customers') }} as customers
    cross join {{ cutoffs }} as cutoffs
    where customers.signed_up_at is null or cast(customers.signed_up_at as date) <= cutoffs.cutoff_date

),

snap_transactions as (

    select
        cutoffs.cutoff_date,
        t.customer_id,
        count(distinct t.transaction_id) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date and t.amount >= 0) as orders,
        coalesce(sum(t.amount) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date), 0) as total_spend,
        count(distinct t.transaction_id) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date
            and cast(t.transacted_at as date) > cutoffs.cutoff_date - {{ inactivity_days }} and t.amount > 0) as recent_orders,
        max(cast(t.transacted_at as date)) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date) as last_purchase_date,
        max(t.transacted_at) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date and t.amount >= 0) as last_purchase_at,
        min(cast(t.transacted_at as date)) filter (where cast(t.transacted_at as date) <= cutoffs.cutoff_date) as first_purchase_date,
        coalesce(sum(t.amount) filter (where cast(t.transacted_at as date) > cutoffs.cutoff_date
            and cast(t.transacted_at as date) <= cutoffs.cutoff_date + {{ window_days }}), 0) as next_value,
        count(distinct t.transaction_id) filter (where cast(t.transacted_at as date) > cutoffs.cutoff_date
            and cast(t.transacted_at as date) <= cutoffs.cutoff_date + {{ window_days }} and t.amount > 0) as next_orders
    from {{ ref('int_transactions') }} as t
    cross join {{ cutoffs }} as cutoffs
    where cast(t.transacted_at as date) <= cutoffs.cutoff_date + {{ window_days }}
    group by cutoffs.cutoff_date, t.customer_id

),

snap_events as (

    select
        cutoffs.cutoff_date,
        e.customer_id,
        count(*)                                                            as events,
        count(distinct cast(e.event_at as date))                            as active_days,
        count(*) filter (where cast(e.event_at as date) > cutoffs.cutoff_date - {{ inactivity_days }}) as recent_events,
        coalesce(sum(e.value) filter (where e.event_name = 'video_watched'), 0)  as watch_minutes,
        count(*) filter (where e.event_name = 'session_started')            as sessions,
        avg(e.value) filter (where e.event_name = 'session_started')        as avg_session_minutes,
        count(*) filter (where e.event_name = 'support_contact')            as support_contacts,
        avg(e.value) filter (where e.event_name = 'quiz_submitted')         as quiz_avg,
        avg(e.value) filter (where e.event_name = 'nps_answered')           as nps_avg,
        count(*) filter (where e.event_name = 'enrolled_in_course')         as courses_enrolled,
        count(*) filter (where e.event_name = 'completed_course')           as courses_completed
    from {{ ref('int_events') }} as e
    cross join {{ cutoffs }} as cutoffs
    where cast(e.event_at as date) <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date, e.customer_id

),

snap_subscriptions as (

    -- the period covering the cutoff, the one covering the end of the window,
    -- and the first change (upgrade / downgrade / cancel) inside the window
    select
        cutoffs.cutoff_date,
        s.customer_id,
        arg_max(s.plan_level, s.started_at) filter (where {{ is_open_at_as_of('s', as_of_end('cutoffs.cutoff_date')) }}) as plan_level,
        arg_max(s.monthly_amount, s.started_at) filter (where {{ is_open_at_as_of('s', as_of_end('cutoffs.cutoff_date')) }}) as monthly_amount,
        min(cast(s.started_at as date)) filter (where cast(s.started_at as date) <= cutoffs.cutoff_date) as first_subscribed_date,
        count(*) filter (where cast(s.started_at as date) <= cutoffs.cutoff_date)           as subscription_periods,
        count(*) filter (where cast(s.ended_at as date) <= cutoffs.cutoff_date and s.end_reason = 'upgrade')   as past_upgrades,
        count(*) filter (where cast(s.ended_at as date) <= cutoffs.cutoff_date and s.end_reason = 'downgrade') as past_downgrades,
        count(*) filter (where cast(s.ended_at as date) <= cutoffs.cutoff_date and s.end_reason = 'cancel')    as past_cancels,
        bool_or({{ is_open_at_as_of('s', as_of_end('cutoffs.cutoff_date + ' ~ window_days)) }}) as is_subscribed_at_window_end,
        arg_min(coalesce(s.end_reason, 'cancel'), s.ended_at) filter (where cast(s.ended_at as date) > cutoffs.cutoff_date
            and cast(s.ended_at as date) <= cutoffs.cutoff_date + {{ window_days }})            as first_change_in_window
    from {{ ref('int_subscriptions') }} as s
    cross join {{ cutoffs }} as cutoffs
    where cast(s.started_at as date) <= cutoffs.cutoff_date + {{ window_days }}
    group by cutoffs.cutoff_date, s.customer_id

),

snapshot_features as (

    select
        c.cutoff_date,
        c.customer_id,
        c.country, c.region, c.age_group, c.occupation, c.referral_channel,
        cast(c.cutoff_date - cast(coalesce(c.signed_up_at, t.first_purchase_date) as date) as integer) as tenure_days,
        coalesce(t.orders, 0)                                               as orders,
        cast(coalesce(t.total_spend, 0) as double)                          as total_spend,
        coalesce(t.recent_orders, 0)                                        as recent_orders,
        {{ safe_divide('t.total_spend', 'nullif(t.orders, 0)') }}           as avg_order_value,
        cast(c.cutoff_date - t.last_purchase_date as integer)               as days_since_last_purchase,
        coalesce(e.events, 0)                                               as events,
        coalesce(e.active_days, 0)                                          as active_days,
        coalesce(e.recent_events, 0)                                        as recent_events,
        cast(coalesce(e.watch_minutes, 0) as double)                        as watch_minutes,
        coalesce(e.sessions, 0)                                             as sessions,
        e.avg_session_minutes,
        coalesce(e.support_contacts, 0)                                     as support_contacts,
        e.quiz_avg,
        e.nps_avg,
        {{ safe_divide('e.courses_completed', 'nullif(e.courses_enrolled, 0)') }} as completion_rate,
        s.plan_level,
        cast(s.monthly_amount as double)                                    as monthly_amount,
        coalesce(s.subscription_periods, 0)                                 as subscription_periods,
        coalesce(s.past_upgrades, 0)                                        as past_upgrades,
        coalesce(s.past_downgrades, 0)                                      as past_downgrades,
        coalesce(s.past_cancels, 0)                                         as past_cancels,
        s.plan_level is not null                                            as is_subscribed,
        -- active at the cutoff (macros/active.sql): a subscription open at it,
        -- or a purchase within the inactivity window ending with it
        {{ is_active_at_as_of('s.plan_level is not null', 't.last_purchase_at', as_of_end('c.cutoff_date')) }} as is_active,
        -- what happened in the window after the cutoff
        cast(coalesce(t.next_value, 0) as double)                           as next_value,
        coalesce(t.next_orders, 0)                                          as next_orders,
        {{ is_active_at_as_of('s.plan_level is not null', 't.last_purchase_at', as_of_end('c.cutoff_date')) }}
          and not (coalesce(s.is_subscribed_at_window_end, false) or coalesce(t.next_orders, 0) > 0) as is_churned_next,
        case
            when s.plan_level is null then null
            when s.first_change_in_window = 'upgrade' then 'upgrade'
            when s.first_change_in_window = 'downgrade' then 'downgrade'
            when s.first_change_in_window = 'cancel' and not coalesce(s.is_subscribed_at_window_end, false) then 'churn'
            else 'none'
        end                                                                 as tier_change_next
    from snap_customers as c
    left join snap_transactions as t using (cutoff_date, customer_id)
    left join snap_events as e using (cutoff_date, customer_id)
    left join snap_subscriptions as s using (cutoff_date, customer_id)

)
{% endmacro %}
