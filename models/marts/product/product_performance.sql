{#- One row per product (product_id): net revenue, units, orders, buyers and
    refunds, its revenue rank and whether it is a laggard.
    Refund rule (all product marts): a transaction with a negative amount is a
    refund. Revenue is NET (sum of all amounts, refunds subtract); sales are the
    rows with amount >= 0 (orders, buyers, gross revenue); units are net (a
    refund row takes its quantity back; a missing quantity counts as 1).
    Transactions without a product_id or after the as-of date are left out.
    revenue_rank: dense rank by net revenue, highest = 1, ties share a rank.
    is_laggard: net revenue at or below the continuous percentile
    var('product_laggard_share') (default 0.2) of product revenues; ties share
    the flag (never NTILE). -#}
{%- set laggard_share = setting('product_laggard_share') %}

with transactions as (

    select * from {{ ref('int_transactions') }}
    where
        product_id is not null
        and {{ is_on_or_before_as_of('transacted_at') }}

),

lines as (

    select
        product_id,
        product_category,
        customer_id,
        amount,
        {{ is_refund('amount') }} as is_refund,
        coalesce(quantity, 1) as quantity
    from transactions

),

by_product as (

    select
        product_id,
        -- a product listed under several categories takes the alphabetically first
        min(product_category) as product_category,
        sum(amount) as revenue,
        sum(case when not is_refund then amount else 0 end) as gross_revenue,
        -sum(case when is_refund then amount else 0 end) as refunded_amount,
        cast(sum(case when is_refund then -quantity else quantity end) as bigint) as units,
        count(case when not is_refund then 1 end) as orders,
        count(case when is_refund then 1 end) as refunds,
        count(distinct case when not is_refund then customer_id end) as customers
    from lines
    group by product_id

),

laggard_cutoff as (

    select {{ percentile_cont('revenue', laggard_share) }} as laggard_revenue_cutoff
    from by_product

),

final as (

    select
        by_product.product_id,
        by_product.product_category,
        by_product.revenue,
        by_product.gross_revenue,
        by_product.refunded_amount,
        by_product.units,
        by_product.orders,
        by_product.refunds,
        {{ safe_divide('by_product.refunds', 'by_product.orders') }} as refund_rate,
        by_product.customers,
        {{ safe_divide('by_product.revenue', 'sum(by_product.revenue) over ()') }} as revenue_share,
        dense_rank() over (order by by_product.revenue desc) as revenue_rank,
        laggard_cutoff.laggard_revenue_cutoff,
        cast(by_product.revenue as double) <= laggard_cutoff.laggard_revenue_cutoff as is_laggard
    from by_product
    cross join laggard_cutoff

)

select * from final
