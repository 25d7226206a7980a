{#- Monthly cohort retention: one row per cohort month (the month of a
    customer's first activity) and month since then (0 = the cohort month, up to
    the as-of month), with customers active and revenue in that month.
    Activity in a month = a purchase (a transaction with amount >= 0) or a
    subscription period in force at some time in the month.
    Revenue of a month = net transaction amounts (refunds included) + subscription
    revenue billed by the billing rule (macros/billing.sql): a period is billed in
    advance, one monthly_amount per billing cycle: at its start and at every
    monthly anniversary of its start before it ends, up to the end of the as-of
    day; the k-th bill falls in the k-th month after the start month, so the
    as-of month bills every open period and a period starting and ending within
    a month bills once; where the data states the period's total
    (billed_amount) it is spread over those months in whole cents. The months add
    up to the customer's subscription_revenue in int_customer_value_features. -#}

with transactions as (

    select * from {{ ref('int_transactions') }}

),

periods as (

    select * from {{ ref('int_subscriptions') }}

),

as_of as (

    {{ as_of_bounds() }}

),

purchase_months as (

    select
        transactions.customer_id,
        cast({{ dbt.date_trunc('month', 'transactions.transacted_at') }} as date) as activity_month,
        count(*) filter (where {{ is_purchase('transactions.amount') }}) > 0 as is_active,
        sum(transactions.amount)                                     as transaction_revenue,
        cast(0 as decimal(18, 2))                                    as subscription_revenue
    from transactions
    -- a scalar filter, not a join with as_of: DuckDB pushes it into the scan
    where {{ happened_by_as_of('transactions.transacted_at', '(select as_of_end from as_of)') }}
    group by 1, 2

),

period_bounds as (

    select
        periods.customer_id,
        {{ billing_start_month('periods') }}                         as start_month,
        -- the months the period is in force in (active): start month to the
        -- month it ended, or the as-of month while open
        greatest(1, {{ dbt.datediff(billing_start_month('periods'), 'cast(' ~ dbt.date_trunc('month', 'least(coalesce(periods.ended_at, as_of.as_of_at), as_of.as_of_at)') ~ ' as date)', 'month') }} + 1) as months_in_force,
        -- the bills (macros/billing.sql): the k-th in the k-th month after the start
        {{ billing_cycles('periods', 'as_of.as_of_end') }}           as months,
        {{ billed_revenue('periods', 'as_of.as_of_end') }}           as billed_revenue
    from periods
    cross join as_of
    where
        {{ is_started_by_as_of('periods', 'as_of.as_of_end') }}
        and periods.started_at is not null

),

-- one row per period and calendar month it is in force in (set-based expansion)
period_months as (

    select
        customer_id,
        billed_revenue,
        months,
        month_index,
        cast({{ dbt.dateadd('month', 'month_index', 'start_month') }} as date) as activity_month
    from (
        select
            *,
            unnest(generate_series(0, greatest(months_in_force, months) - 1)) as month_index
        from period_bounds
    ) as expanded

),

subscription_months as (

    select
        customer_id,
        activity_month,
        true                                                         as is_active,
        cast(0 as decimal(18, 2))                                    as transaction_revenue,
        coalesce(
            sum({{ billed_month_amount('billed_revenue', 'month_index', 'months') }})
            filter (where month_index < months), 0
        )                  as subscription_revenue
    from period_months
    group by 1, 2

),

customer_months as (

    select
        customer_id,
        activity_month,
        bool_or(is_active)                                           as is_active,
        sum(transaction_revenue)                                     as transaction_revenue,
        sum(subscription_revenue)                                    as subscription_revenue
    from (
        select * from purchase_months
        union all
        select * from subscription_months
    ) as months
    group by 1, 2

),

cohorts as (

    select
        customer_id,
        min(activity_month) filter (where is_active)                 as cohort_month
    from customer_months
    group by 1

),

cohort_sizes as (

    select
        cohort_month,
        count(*)                                                     as cohort_customers
    from cohorts
    where cohort_month is not null
    group by 1

),

-- every cohort x months since its first month, up to the as-of month
spine as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        unnest(generate_series(0, {{ dbt.datediff('cohort_sizes.cohort_month', 'as_of.as_of_month', 'month') }})) as months_since_first
    from cohort_sizes
    cross join as_of

),

cohort_activity as (

    select
        cohorts.cohort_month,
        {{ dbt.datediff('cohorts.cohort_month', 'customer_months.activity_month', 'month') }} as months_since_first,
        count(*) filter (where customer_months.is_active)            as active_customers,
        sum(customer_months.transaction_revenue)                     as transaction_revenue,
        sum(customer_months.subscription_revenue)                    as subscription_revenue
    from customer_months
    inner join cohorts on cohorts.customer_id = customer_months.customer_id
    where customer_months.activity_month >= cohorts.cohort_month
    group by 1, 2

),

filled as (

    select
        spine.cohort_month,
        spine.months_since_first,
        cast({{ dbt.dateadd('month', 'spine.months_since_first', 'spine.cohort_month') }} as date) as activity_month,
        spine.cohort_customers,
        coalesce(cohort_activity.active_customers, 0)                as active_customers,
        coalesce(cohort_activity.transaction_revenue, 0)             as transaction_revenue,
        coalesce(cohort_activity.subscription_revenue, 0)            as subscription_revenue,
        coalesce(cohort_activity.transaction_revenue, 0)
        + coalesce(cohort_activity.subscription_revenue, 0)      as total_revenue
    from spine
    left join cohort_activity
        on
            cohort_activity.cohort_month = spine.cohort_month
            and cohort_activity.months_since_first = spine.months_since_first

),

final as (

    select
        cohort_month,
        months_since_first,
        activity_month,
        cohort_customers,
        active_customers,
        {{ safe_divide('active_customers', 'cohort_customers') }}    as retention_rate,
        transaction_revenue,
        subscription_revenue,
        total_revenue,
        {{ safe_divide('total_revenue', 'max(case when months_since_first = 0 then total_revenue end) over (partition by cohort_month)') }}
            as revenue_retention,
        sum(total_revenue) over (
            partition by cohort_month order by months_since_first
            rows between unbounded preceding and current row
        )                                                            as cumulative_revenue,
        {{ safe_divide('sum(total_revenue) over (partition by cohort_month order by months_since_first rows between unbounded preceding and current row)', 'cohort_customers') }}
            as cumulative_revenue_per_customer
    from filled

)

select * from final
