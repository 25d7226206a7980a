{#- The BG/BB model's data (SQL prepares, Python fits: bgbb_parameters): one row
    per customer with a purchase by the as-of date. Transaction opportunities are
    the calendar periods of bgbb_period (year, month, or week from Monday): at most
    one transaction per customer and period, a period counting when it has a
    purchase (is_purchase, the refund rule). A customer's opportunities are the
    periods after the period of their first purchase up to the as-of period (n);
    frequency x = later periods with a purchase; recency t_x = the last of them,
    counted from the first period (0 when x = 0). -#}
{%- set period = setting('bgbb_period') -%}

with transactions as (

    select * from {{ ref('int_transactions') }}

),

as_of as (

    {{ as_of_bounds() }}

),

purchase_periods as (

    select distinct
        transactions.customer_id,
        cast({{ dbt.date_trunc(period, 'transactions.transacted_at') }} as date) as period_start
    from transactions
    where
        {{ happened_by_as_of('transactions.transacted_at', '(select as_of_end from as_of)') }}
        and {{ is_purchase('transactions.amount') }}

),

summary as (

    select
        customer_id,
        min(period_start)                                               as first_period_start,
        max(period_start)                                               as last_period_start,
        count(*) - 1                                                    as frequency
    from purchase_periods
    group by customer_id

),

final as (

    select
        summary.customer_id,
        summary.first_period_start,
        summary.last_period_start,
        cast(summary.frequency as integer)                              as frequency,
        cast({{ dbt.datediff('summary.first_period_start', 'summary.last_period_start', period) }} as integer) as recency,
        cast({{ dbt.datediff('summary.first_period_start', 'cast(' ~ dbt.date_trunc(period, 'as_of.as_of_at') ~ ' as date)', period) }} as integer) as n_opportunities,
        '{{ period }}'                                                  as period
    from summary
    cross join as_of

)

select * from final
