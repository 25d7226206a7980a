{#- One row per product category: net revenue and its share of all net revenue,
    buyers, orders, net units, products sold and refunds. A missing category is
    reported as '(unknown)'. Refund rule as in product_performance (negative
    amount = refund; revenue net; orders and buyers count sales only).
    Transactions after the as-of date are left out. -#}

with transactions as (

    select * from {{ ref('int_transactions') }}
    where {{ is_on_or_before_as_of('transacted_at') }}

),

lines as (

    select
        coalesce(product_category, '(unknown)') as product_category,
        product_id,
        customer_id,
        amount,
        {{ is_refund('amount') }} as is_refund,
        coalesce(quantity, 1) as quantity
    from transactions

),

by_category as (

    select
        product_category,
        sum(amount) as revenue,
        sum(case when not is_refund then amount else 0 end) as gross_revenue,
        -sum(case when is_refund then amount else 0 end) as refunded_amount,
        count(distinct case when not is_refund then customer_id end) as customers,
        count(case when not is_refund then 1 end) as orders,
        count(case when is_refund then 1 end) as refunds,
        cast(sum(case when is_refund then -quantity else quantity end) as bigint) as units,
        count(distinct product_id) as products
    from lines
    group by product_category

),

final as (

    select
        product_category,
        revenue,
        {{ safe_divide('revenue', 'sum(revenue) over ()') }} as revenue_share,
        gross_revenue,
        refunded_amount,
        customers,
        orders,
        {{ safe_divide('gross_revenue', 'orders') }} as avg_order_value,
        refunds,
        units,
        products,
        dense_rank() over (order by revenue desc) as revenue_rank
    from by_category

)

select * from final
