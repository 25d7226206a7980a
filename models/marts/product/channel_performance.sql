{#- One row per sales channel: net revenue and share, sale transactions,
    buyers, average order value, refunds and refund rate, revenue per buyer.
    There is no cost data, so "profitability" is reported as net revenue after
    refunds, refund rate and revenue per buyer; an estimated margin is given
    only for the channels listed in var('channel_cost_rates') ({channel: cost
    share of net revenue}, default {} = margin null). A missing channel is
    reported as '(unknown)'. Refund rule as in product_performance.
    Transactions after the as-of date are left out. -#}
{%- set cost_rates = setting('channel_cost_rates') or {} %}

with transactions as (

    select * from {{ ref('int_transactions') }}
    where {{ is_on_or_before_as_of('transacted_at') }}

),

lines as (

    select
        coalesce(channel, '(unknown)') as channel,
        customer_id,
        amount,
        {{ is_refund('amount') }} as is_refund
    from transactions

),

by_channel as (

    select
        channel,
        sum(amount) as revenue,
        sum(case when not is_refund then amount else 0 end) as gross_revenue,
        -sum(case when is_refund then amount else 0 end) as refunded_amount,
        count(case when not is_refund then 1 end) as transactions,
        count(case when is_refund then 1 end) as refunds,
        count(distinct case when not is_refund then customer_id end) as customers
    from lines
    group by channel

),

costed as (

    select
        *,
        {%- if cost_rates | length > 0 %}
        case channel
            {%- for channel, rate in cost_rates.items() %}
            when {{ sql_literal(channel) }} then cast({{ rate }} as double)
            {%- endfor %}
        end as cost_rate
        {%- else %}
        cast(null as double) as cost_rate
        {%- endif %}
    from by_channel

),

final as (

    select
        channel,
        revenue,
        {{ safe_divide('revenue', 'sum(revenue) over ()') }} as revenue_share,
        gross_revenue,
        refunded_amount,
        transactions,
        customers,
        {{ safe_divide('gross_revenue', 'transactions') }} as avg_order_value,
        {{ safe_divide('revenue', 'customers') }} as revenue_per_customer,
        refunds,
        {{ safe_divide('refunds', 'transactions') }} as refund_rate,
        {{ safe_divide('refunded_amount', 'gross_revenue') }} as refunded_share,
        cost_rate,
        cast(revenue as double) * cost_rate as estimated_cost,
        cast(revenue as double) * (1 - cost_rate) as estimated_margin,
        dense_rank() over (order by revenue desc) as revenue_rank
    from costed

)

select * from final
