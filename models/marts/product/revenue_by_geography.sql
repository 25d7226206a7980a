{#- Geographic hot spots: one row per (country, region) of int_customers, with
    all customers there, buyers (at least one sale), net revenue, its share,
    revenue per customer and per buyer, and a revenue rank. A missing country or
    region is reported as '(unknown)'; transactions of customers not in
    int_customers land in ('(unknown)', '(unknown)'). Refund rule as in
    product_performance. Empty when the dataset has no transactions (telecom).
    Transactions after the as-of date are left out. -#}

with customers as (

    select * from {{ ref('int_customers') }}

),

transactions as (

    select * from {{ ref('int_transactions') }}
    where {{ is_on_or_before_as_of('transacted_at') }}

),

customer_revenue as (

    select
        customer_id,
        sum(amount) as revenue,
        count(case when {{ is_purchase('amount') }} then 1 end) > 0 as is_buyer
    from transactions
    group by customer_id

),

located as (

    select
        coalesce(customers.country, '(unknown)') as country,
        coalesce(customers.region, '(unknown)') as region,
        customers.customer_id as known_customer_id,
        coalesce(customer_revenue.is_buyer, false) as is_buyer,
        coalesce(customer_revenue.revenue, 0) as revenue
    from customers
    full outer join customer_revenue
        on customer_revenue.customer_id = customers.customer_id

),

by_geography as (

    select
        country,
        region,
        count(known_customer_id) as customers,
        count(case when is_buyer then 1 end) as buyers,
        sum(revenue) as revenue
    from located
    group by country, region

),

final as (

    select
        country,
        region,
        customers,
        buyers,
        {{ safe_divide('buyers', 'customers') }} as buyer_rate,
        revenue,
        {{ safe_divide('revenue', 'sum(revenue) over ()') }} as revenue_share,
        {{ safe_divide('revenue', 'customers') }} as revenue_per_customer,
        {{ safe_divide('revenue', 'buyers') }} as revenue_per_buyer,
        dense_rank() over (order by revenue desc) as revenue_rank
    from by_geography
    where exists (select 1 from transactions)

)

select * from final
