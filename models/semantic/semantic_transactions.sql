{#- The transactions the semantic layer aggregates (transaction_revenue, orders,
    average_order_value): int_transactions dated by the as-of date
    (is_on_or_before_as_of), each flagged by the one refund rule
    (is_purchase in macros/purchases.sql): a refund is netted into revenue but is
    never an order. -#}

with transactions as (

    select * from {{ ref('int_transactions') }}

),

final as (

    select
        transaction_id,
        customer_id,
        transacted_at,
        amount,
        {{ is_purchase('amount') }}                                    as is_purchase,
        cast({{ is_purchase('amount') }} as integer)                   as purchase_count
    from transactions
    where {{ is_on_or_before_as_of('transacted_at') }}

)

select * from final
