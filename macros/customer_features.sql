{#- The point-in-time customer features: the one definition of what is known
    about each customer at an as-of date, computed for one or many as-of dates
    (cutoffs) in the same pass. int_customer_value_features (the build's as-of
    date: customer_features, customer_clv, churn_by_segment, the profiles),
    churn_model_input and backtest_cutoff_features (earlier cutoffs) all read it, so a
    rule written here holds for every one of them by construction.

    `cutoffs` is a relation (a CTE name) with one row per as-of date and the
    column cutoff_date (date). Emits CTEs (comma-separated, no leading WITH);
    the caller selects from `pit_features`: one row per (cutoff_date,
    customer_id) of the customers known at that date.

    Rules (docs/DESIGN.md "Definitions"):
      - known at the cutoff: everything strictly before as_of_end(cutoff_date),
        the first instant after the cutoff day (happened_by_as_of);
      - the population: customers signed up by then, or with no sign-up date
        recorded (a later sign-up is not known yet);
      - purchases are transactions with is_purchase(amount) (amount >= 0);
        refunds reduce spend but are neither orders nor purchases;
      - events are named by feature_event_names(); courses are distinct
        object_ids; completion_rate is capped at 1;
      - the subscription status is subscription_status_ctes (macros below):
        the latest period started by the cutoff, open or churned then;
      - active: is_active_at_as_of (macros/active.sql).
    Null conventions: counts and sums are 0 for a customer without rows when the
    dataset has that input, and null when the dataset has no such input at all;
    averages and ratios are null where undefined. -#}
{#- pit_cutoffs: each cutoff_date of `cutoffs` with its cutoff_end (as_of_end). -#}
{% macro cutoff_bounds_cte(cutoffs) %}
pit_cutoffs as (

    select cutoff_date, {{ as_of_end('cutoff_date') }} as cutoff_end
    from {{ cutoffs }}

)
{% endmacro %}


{#- The mean of decimal(38, 9) values from their `total` (sum) and `n` (count),
    as DuckDB's avg() of those values computes it: the sum in units of 10^-9 over
    n * 10^9, divided in DOUBLE (one rounding, the nearest double to the exact
    mean); null when n is 0. Lets an average be rolled up from partial sums and
    counts with the same bytes as avg() over the rows. -#}
{% macro decimal_average(total, n) -%}
  case when {{ n }} > 0
    then cast(cast({{ total }} * 1000000000 as hugeint) as double) / (cast({{ n }} as double) * cast(1000000000 as double))
  end
{%- endmacro %}


{% macro customer_feature_ctes(cutoffs, window_days=none) %}
{%- set ev = feature_event_names() -%}
{%- set inactivity = setting('churn_inactivity_days') | int -%}
{{ cutoff_bounds_cte(cutoffs) }},

-- which inputs the dataset has (read from the relations: a CTE referenced
-- twice is materialised, and at 50M events DuckDB then hangs)
pit_inputs as (

    select
        exists (select 1 from {{ ref('int_transactions') }})  as has_transactions_input,
        exists (select 1 from {{ ref('int_subscriptions') }}) as has_subscriptions_input,
        exists (select 1 from {{ ref('int_events') }})        as has_events_input

),

pit_customers as (

    select pit_cutoffs.cutoff_date, pit_cutoffs.cutoff_end, customers.*
    from {{ ref('int_customers') }} as customers
    cross join pit_cutoffs
    where {{ is_signed_up_by_as_of('customers', 'pit_cutoffs.cutoff_end') }}

),

-- The instants every figure is cut at: each cutoff's end, the start of its
-- recent window (churn_inactivity_days before) and, for cutoff_feature_ctes,
-- the end of its outcome window. All are midnights, so a calendar day lies in
-- exactly one segment between two consecutive boundaries. Each event and
-- transaction is read once (events once more for the courses), aggregated
-- per (segment, customer); a cutoff's
-- figures are the segments before its end rolled up (counts and sums add,
-- min/max combine, distinct days add over disjoint segments, averages are
-- sum / count), which gives the same values as aggregating the rows known at
-- each cutoff, at the cost of one scan however many cutoffs there are.
pit_boundaries as (

    select distinct boundary_at
    from (
        select cutoff_end as boundary_at from pit_cutoffs
        union all
        select cutoff_end - interval ({{ inactivity }}) day from pit_cutoffs
        {%- if window_days is not none %}
        union all
        select cutoff_end + interval ({{ window_days }}) day from pit_cutoffs
        {%- endif %}
    ) as b
    where boundary_at is not null

),

-- one row per segment: [segment_start, segment_end), the first from the beginning
pit_segments as (

    select
        lag(boundary_at) over (order by boundary_at) as segment_start,
        boundary_at                                  as segment_end
    from pit_boundaries

),

-- the segment of each day from the first boundary to the last: a row's
-- segment is found by a hash join on its day (a day before the first boundary
-- is in the first segment; rows from the last boundary on are not read)
pit_calendar as (

    select cast(days.d as date) as day, segments.segment_end
    from range(
        (select min(boundary_at) from pit_boundaries),
        (select max(boundary_at) from pit_boundaries),
        interval 1 day) as days(d)
    inner join pit_segments as segments
        on days.d >= segments.segment_start and days.d < segments.segment_end

),

-- transactions per (segment, customer); the scalar bound is pushed into the scan
pit_transaction_segments as (

    select
        coalesce(calendar.segment_end, (select min(boundary_at) from pit_boundaries)) as segment_end,
        t.customer_id,
        count(*) filter (where {{ is_purchase('t.amount') }})                      as orders,
        sum(t.amount)                                                              as total_spend,
        min(t.transacted_at) filter (where {{ is_purchase('t.amount') }})          as first_purchase_at,
        max(t.transacted_at) filter (where {{ is_purchase('t.amount') }})          as last_purchase_at,
        min(t.transacted_at)                                                       as first_transaction_at
    from {{ ref('int_transactions') }} as t
    left join pit_calendar as calendar on calendar.day = cast(t.transacted_at as date)
    where {{ happened_by_as_of('t.transacted_at', '(select max(boundary_at) from pit_boundaries)') }}
    group by 1, t.customer_id

),

-- the transactions known at each cutoff: its segments rolled up
pit_transactions as (

    select
        pit_cutoffs.cutoff_date,
        s.customer_id,
        cast(sum(s.orders) as bigint)                                              as orders,
        sum(s.total_spend)                                                         as total_spend,
        min(s.first_purchase_at)                                                   as first_purchase_at,
        max(s.last_purchase_at)                                                    as last_purchase_at,
        min(s.first_transaction_at)                                                as first_transaction_at,
        -- purchases on the churn_inactivity_days days ending with the cutoff day
        cast(coalesce(sum(s.orders) filter (
            where segments.segment_start >= pit_cutoffs.cutoff_end - interval ({{ inactivity }}) day), 0) as bigint) as recent_orders
    from pit_transaction_segments as s
    inner join pit_segments as segments using (segment_end)
    inner join pit_cutoffs on s.segment_end <= pit_cutoffs.cutoff_end
    group by pit_cutoffs.cutoff_date, s.customer_id

),

-- events per (segment, customer, calendar year of the event); the scalar bound
-- is pushed into the scan. Active days are the distinct days with an event: a
-- day lies in exactly one segment and one year, so a cutoff's active days are
-- the days of its (segment, year) groups added up. They are counted without a
-- hash of every (customer, day) pair: the group's days of the year are set in
-- a 366-bit string and its set bits counted.
pit_event_segments as (

    select
        coalesce(calendar.segment_end, (select min(boundary_at) from pit_boundaries)) as segment_end,
        e.customer_id,
        count(*)                                                                   as events,
        count(*) filter (where e.event_name = {{ sql_literal(ev.session) }})       as sessions,
        sum({{ exact_value('e.value') }}) filter (where e.event_name = {{ sql_literal(ev.session) }})   as session_minutes,
        count(e.value) filter (where e.event_name = {{ sql_literal(ev.session) }}) as session_values,
        sum({{ exact_value('e.value') }}) filter (where e.event_name = {{ sql_literal(ev.video) }})     as watch_minutes,
        sum({{ exact_value('e.value') }}) filter (where e.event_name = {{ sql_literal(ev.quiz) }})      as quiz_sum,
        count(e.value) filter (where e.event_name = {{ sql_literal(ev.quiz) }})    as quiz_values,
        sum({{ exact_value('e.value') }}) filter (where e.event_name = {{ sql_literal(ev.nps) }})       as nps_sum,
        count(e.value) filter (where e.event_name = {{ sql_literal(ev.nps) }})     as nps_values,
        count(*) filter (where e.event_name = {{ sql_literal(ev.support) }})       as support_contacts,
        min(e.event_at)                                                            as first_event_at,
        max(e.event_at)                                                            as last_event_at,
        bit_count(bitstring_agg(dayofyear(cast(e.event_at as date)) - 1, 0, 365)) as active_days
    from {{ ref('int_events') }} as e
    left join pit_calendar as calendar on calendar.day = cast(e.event_at as date)
    where {{ happened_by_as_of('e.event_at', '(select max(boundary_at) from pit_boundaries)') }}
    group by 1, e.customer_id, year(cast(e.event_at as date))

),

-- courses are distinct object_ids: a course counts at a cutoff from its first
-- enrolment (completion) event on
pit_course_firsts as (

    select
        e.customer_id,
        e.event_name,
        e.object_id,
        min(e.event_at)                                                            as first_at
    from {{ ref('int_events') }} as e
    where e.event_name in ({{ sql_literal(ev.enrolment) }}, {{ sql_literal(ev.completion) }})
      and e.object_id is not null
      and e.event_at < (select max(cutoff_end) from pit_cutoffs)
    group by e.customer_id, e.event_name, e.object_id

),

pit_courses as (

    select
        pit_cutoffs.cutoff_date,
        c.customer_id,
        count(*) filter (where c.event_name = {{ sql_literal(ev.enrolment) }})     as courses_enrolled,
        count(*) filter (where c.event_name = {{ sql_literal(ev.completion) }})    as courses_completed
    from pit_course_firsts as c
    inner join pit_cutoffs on {{ happened_by_as_of('c.first_at', 'pit_cutoffs.cutoff_end') }}
    group by pit_cutoffs.cutoff_date, c.customer_id

),

-- the events known at each cutoff: its segments rolled up
pit_event_rollup as (

    select
        pit_cutoffs.cutoff_date,
        s.customer_id,
        cast(sum(s.events) as bigint)                                              as events,
        cast(coalesce(sum(s.events) filter (
            where segments.segment_start >= pit_cutoffs.cutoff_end - interval ({{ inactivity }}) day), 0) as bigint) as recent_events,
        cast(sum(s.sessions) as bigint)                                            as sessions,
        -- averages: the exact decimal sum / the count of values (decimal_average)
        {{ decimal_average('sum(s.session_minutes)', 'sum(s.session_values)') }} as avg_session_minutes,
        cast(coalesce(sum(s.watch_minutes), 0) as double)                          as watch_minutes,
        {{ decimal_average('sum(s.quiz_sum)', 'sum(s.quiz_values)') }}          as quiz_avg,
        {{ decimal_average('sum(s.nps_sum)', 'sum(s.nps_values)') }}            as nps_avg,
        cast(sum(s.support_contacts) as bigint)                                    as support_contacts,
        min(s.first_event_at)                                                      as first_event_at,
        max(s.last_event_at)                                                       as last_event_at,
        cast(sum(s.active_days) as bigint)                                         as active_days
    from pit_event_segments as s
    inner join pit_segments as segments using (segment_end)
    inner join pit_cutoffs on s.segment_end <= pit_cutoffs.cutoff_end
    group by pit_cutoffs.cutoff_date, s.customer_id

),

pit_events as (

    select
        r.*,
        coalesce(c.courses_enrolled, 0)                                            as courses_enrolled,
        coalesce(c.courses_completed, 0)                                           as courses_completed
    from pit_event_rollup as r
    left join pit_courses as c using (cutoff_date, customer_id)

),

{{ subscription_status_ctes('pit_cutoffs') }},

pit_joined as (

    select
        c.*,
        pit_inputs.has_transactions_input,
        pit_inputs.has_subscriptions_input,
        pit_inputs.has_events_input,
        s.plan_level,
        s.plan_type,
        s.monthly_amount,
        s.tenure_months,
        s.periods                                                                  as subscription_periods,
        s.past_upgrades,
        s.past_downgrades,
        s.past_cancels,
        coalesce(s.is_churned_at_cutoff, false)                                    as is_churned,
        s.customer_id is not null                                                  as has_subscription,
        coalesce(s.has_active_subscription, false)                                 as has_active_subscription,
        s.first_started_at,
        case when pit_inputs.has_transactions_input then coalesce(t.orders, 0) end         as orders,
        case when pit_inputs.has_transactions_input then coalesce(t.total_spend, 0) end    as total_spend,
        case when pit_inputs.has_transactions_input then coalesce(t.recent_orders, 0) end  as recent_orders,
        t.first_purchase_at,
        t.last_purchase_at,
        t.first_transaction_at,
        case when pit_inputs.has_events_input then coalesce(e.events, 0) end               as events,
        case when pit_inputs.has_events_input then coalesce(e.active_days, 0) end          as active_days,
        case when pit_inputs.has_events_input then coalesce(e.recent_events, 0) end        as recent_events,
        case when pit_inputs.has_events_input then coalesce(e.sessions, 0) end             as sessions,
        e.avg_session_minutes,
        case when pit_inputs.has_events_input then coalesce(e.watch_minutes, 0) end        as watch_minutes,
        case when pit_inputs.has_events_input then coalesce(e.courses_enrolled, 0) end     as courses_enrolled,
        case when pit_inputs.has_events_input then coalesce(e.courses_completed, 0) end    as courses_completed,
        e.quiz_avg,
        e.nps_avg,
        case when pit_inputs.has_events_input then coalesce(e.support_contacts, 0) end     as support_contacts,
        e.first_event_at,
        e.last_event_at,
        -- first sign of the customer: sign-up, else the earliest transaction,
        -- subscription or event
        coalesce(c.signed_up_at, least(t.first_transaction_at, s.first_started_at, e.first_event_at)) as first_seen_at
    from pit_customers as c
    cross join pit_inputs
    -- cutoff_date is null for a dataset without any date (the telecom snapshot)
    left join pit_subscription_status as s
        on s.customer_id = c.customer_id and s.cutoff_date is not distinct from c.cutoff_date
    left join pit_transactions as t
        on t.customer_id = c.customer_id and t.cutoff_date is not distinct from c.cutoff_date
    left join pit_events as e
        on e.customer_id = c.customer_id and e.cutoff_date is not distinct from c.cutoff_date

),

pit_features as (

    select
        *,
        -- total_spend / orders in exact decimal arithmetic (DuckDB divides
        -- decimals in DOUBLE): integer division of cents, rounded half away from
        -- zero at 12 decimals, so clv_score rounds exact .xx5 values correctly
        case when orders > 0 then
            sign(total_spend) * cast(
                (abs(cast(total_spend * 100 as hugeint)) * 20000000000 + orders) // (2 * orders)
            as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12))
        end                                                                        as avg_order_value,
        {{ dbt.datediff('last_purchase_at', 'cutoff_date', 'day') }}               as days_since_last_purchase,
        case when first_seen_at < cutoff_end
            then {{ dbt.datediff('first_seen_at', 'cutoff_date', 'day') }}
        end                                                                        as tenure_days,
        -- completed / enrolled courses, capped at 1 (a completion logged
        -- without its enrolment must not push the rate above 100%)
        case when courses_enrolled > 0
            then least({{ safe_divide('courses_completed', 'courses_enrolled') }}, 1.0)
        end                                                                        as completion_rate,
        -- a purchase within the inactivity window (macros/active.sql)
        {{ is_recent_purchase('last_purchase_at', 'cutoff_end') }}                 as is_recent_buyer,
        -- "active", the one definition (macros/active.sql)
        {{ is_active_at_as_of('has_active_subscription', 'last_purchase_at', 'cutoff_end') }} as is_active
    from pit_joined

)
{% endmacro %}


{#- The subscription status at each cutoff (pit_cutoffs: cutoff_date,
    cutoff_end), one row per (cutoff_date, customer_id) subscribed by then:
    the plan of the latest period started by the cutoff, whether the customer
    has churned by then, whether that period is open at the cutoff, the
    months subscribed, and the changes (upgrade / downgrade / cancel) that ended
    periods by then. Periods starting after the cutoff are not known yet and do
    not count; an end after the cutoff is not known yet either (the period is
    open). Datasets with a single period per customer (nexa_sat) pass straight
    through. int_customer_subscription_status is this at the build's as-of date. -#}
{% macro subscription_status_ctes(cutoffs) %}
pit_periods as (

    select
        cutoffs.cutoff_date,
        cutoffs.cutoff_end,
        periods.*,
        {{ is_open_at_as_of('periods', 'cutoffs.cutoff_end') }} as is_open,
        coalesce({{ happened_by_as_of('periods.ended_at', 'cutoffs.cutoff_end') }}, false) as has_ended,
        row_number() over (
            partition by cutoffs.cutoff_date, periods.customer_id
            order by periods.started_at desc nulls last, periods.subscription_id desc
        ) as recency_rank
    from {{ ref('int_subscriptions') }} as periods
    inner join {{ cutoffs }} as cutoffs on {{ is_started_by_as_of('periods', 'cutoffs.cutoff_end') }}

),

pit_period_summary as (

    select
        cutoff_date,
        customer_id,
        count(*)                                                                   as periods,
        min(started_at)                                                            as first_started_at,
        -- months subscribed: the months billed (macros/billing.sql), summed
        sum({{ billed_months('pit_periods', 'cutoff_end') }})                     as tenure_months,
        count(*) filter (where has_ended and end_reason = 'upgrade')               as past_upgrades,
        count(*) filter (where has_ended and end_reason = 'downgrade')             as past_downgrades,
        count(*) filter (where has_ended and end_reason = 'cancel')                as past_cancels
    from pit_periods
    group by cutoff_date, customer_id

),

pit_subscription_status as (

    select
        latest.cutoff_date,
        latest.customer_id,
        latest.plan_level,
        latest.plan_type,
        latest.monthly_amount,
        summary.tenure_months,
        summary.first_started_at,
        summary.periods,
        summary.past_upgrades,
        summary.past_downgrades,
        summary.past_cancels,
        -- churned: the latest period ended with a cancellation by the cutoff
        -- (the dataset's flag when it has one); an end after the cutoff is not
        -- known yet, so such a period is open and not churned
        {{ is_cancelled_by_as_of('latest', 'latest.cutoff_end') }}                                       as is_churned_at_cutoff,
        latest.is_open and not is_churned_at_cutoff                                as has_active_subscription
    from pit_period_summary as summary
    inner join pit_periods as latest
        on latest.cutoff_date is not distinct from summary.cutoff_date
        and latest.customer_id = summary.customer_id
        and latest.recency_rank = 1

)
{% endmacro %}


{#- The point-in-time features at each cutoff (customer_feature_ctes) plus what
    happened in the window_days days after it: the input of the temporal churn
    and tier-change models (churn_model_input) and of the segment backtest
    (backtest_cutoff_features). `cutoffs` as for customer_feature_ctes. Emits CTEs;
    the caller selects from `cutoff_features`, one row per (cutoff_date,
    customer_id) of the customers known at the cutoff. The window is
    [cutoff_end, cutoff_end + window_days days): the window_days days after the
    cutoff day. -#}
{% macro cutoff_feature_ctes(cutoffs, window_days) %}
{{ customer_feature_ctes(cutoffs, window_days) }},

window_transactions as (

    -- the transactions in the window: the segments between the cutoff's end and
    -- the window's end (boundaries of customer_feature_ctes) rolled up
    select
        pit_cutoffs.cutoff_date,
        s.customer_id,
        coalesce(sum(s.total_spend), 0)                                            as next_value,
        cast(sum(s.orders) as bigint)                                              as next_orders
    from pit_transaction_segments as s
    inner join pit_segments as segments using (segment_end)
    inner join pit_cutoffs
        on segments.segment_start >= pit_cutoffs.cutoff_end
        and s.segment_end <= pit_cutoffs.cutoff_end + interval ({{ window_days }}) day
    group by pit_cutoffs.cutoff_date, s.customer_id

),

window_subscriptions as (

    -- whether a period is open at the end of the window, and the first change
    -- (upgrade / downgrade / cancel) that ended a period inside it
    select
        pit_cutoffs.cutoff_date,
        s.customer_id,
        bool_or({{ is_open_at_as_of('s', 'pit_cutoffs.cutoff_end + interval (' ~ window_days ~ ') day') }}) as is_subscribed_at_window_end,
        arg_min(coalesce(s.end_reason, 'cancel'), s.ended_at) filter (where
            not {{ happened_by_as_of('s.ended_at', 'pit_cutoffs.cutoff_end') }}
            and {{ happened_by_as_of('s.ended_at', 'pit_cutoffs.cutoff_end + interval (' ~ window_days ~ ') day') }}) as first_change_in_window
    from {{ ref('int_subscriptions') }} as s
    inner join pit_cutoffs
        on {{ is_started_by_as_of('s', 'pit_cutoffs.cutoff_end + interval (' ~ window_days ~ ') day') }}
    group by pit_cutoffs.cutoff_date, s.customer_id

),

cutoff_features as (

    select
        f.cutoff_date,
        f.customer_id,
        f.country, f.region, f.age_group, f.occupation, f.referral_channel,
        f.tenure_days,
        coalesce(f.orders, 0)                                               as orders,
        cast(coalesce(f.total_spend, 0) as double)                          as total_spend,
        coalesce(f.recent_orders, 0)                                        as recent_orders,
        cast(f.avg_order_value as double)                                   as avg_order_value,
        f.days_since_last_purchase,
        coalesce(f.events, 0)                                               as events,
        coalesce(f.active_days, 0)                                          as active_days,
        coalesce(f.recent_events, 0)                                        as recent_events,
        cast(coalesce(f.watch_minutes, 0) as double)                        as watch_minutes,
        coalesce(f.sessions, 0)                                             as sessions,
        f.avg_session_minutes,
        coalesce(f.support_contacts, 0)                                     as support_contacts,
        f.quiz_avg,
        f.nps_avg,
        f.completion_rate,
        -- the plan the customer is subscribed to at the cutoff (null when none)
        case when f.has_active_subscription then f.plan_level end           as plan_level,
        case when f.has_active_subscription then cast(f.monthly_amount as double) end as monthly_amount,
        coalesce(f.subscription_periods, 0)                                 as subscription_periods,
        coalesce(f.past_upgrades, 0)                                        as past_upgrades,
        coalesce(f.past_downgrades, 0)                                      as past_downgrades,
        coalesce(f.past_cancels, 0)                                         as past_cancels,
        f.has_active_subscription                                           as is_subscribed,
        f.is_active,
        -- what happened in the window after the cutoff
        cast(coalesce(t.next_value, 0) as double)                           as next_value,
        coalesce(t.next_orders, 0)                                          as next_orders,
        f.is_active
          and not (coalesce(s.is_subscribed_at_window_end, false) or coalesce(t.next_orders, 0) > 0) as is_churned_next,
        case
            when not f.has_active_subscription then null
            when s.first_change_in_window = 'upgrade' then 'upgrade'
            when s.first_change_in_window = 'downgrade' then 'downgrade'
            when s.first_change_in_window = 'cancel' and not coalesce(s.is_subscribed_at_window_end, false) then 'churn'
            else 'none'
        end                                                                 as tier_change_next
    from pit_features as f
    left join window_transactions as t using (cutoff_date, customer_id)
    left join window_subscriptions as s using (cutoff_date, customer_id)

)
{% endmacro %}
