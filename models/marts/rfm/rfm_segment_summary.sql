{#- One row per RFM segment present in customer_rfm: size, shares and averages.
    Deterministic: sums and averages are taken over exact values (integers,
    decimals; monetary_value as decimal(38, 15)), then cast to double, so two
    builds of the same input give the same bytes whatever the threads. -#}

with customer_rfm as (

    select * from {{ ref('customer_rfm') }}

),

totals as (

    select
        count(*) as all_customers,
        sum(total_spend) as all_spend
    from customer_rfm

),

by_segment as (

    select
        rfm_segment,
        min(rfm_segment_rank) as rfm_segment_rank,
        count(*) as customers,
        -- every average sums exact values (integers, decimals), so no float is
        -- added in an order that depends on the threads: same input, same bytes
        cast(avg(days_since_last_purchase) as double precision) as avg_days_since_last_purchase,
        cast(avg(frequency) as double precision) as avg_frequency,
        -- monetary_value is a double (an exact decimal / an integer): averaged as
        -- a decimal with 15 places, i.e. to the precision of the double
        cast(avg(cast(monetary_value as decimal(38, 15))) as double precision) as avg_monetary_value,
        cast(avg(orders) as double precision) as avg_orders,
        cast(avg(total_spend) as double precision) as avg_total_spend,
        sum(total_spend) as total_spend
    from customer_rfm
    group by rfm_segment

),

final as (

    select
        by_segment.rfm_segment,
        by_segment.rfm_segment_rank,
        by_segment.customers,
        {{ safe_divide('by_segment.customers', 'totals.all_customers') }} as customer_share,
        by_segment.avg_days_since_last_purchase,
        by_segment.avg_frequency,
        by_segment.avg_monetary_value,
        by_segment.avg_orders,
        by_segment.avg_total_spend,
        cast(by_segment.total_spend as decimal(18, 2)) as total_spend,
        {{ safe_divide('by_segment.total_spend', 'totals.all_spend') }} as spend_share
    from by_segment
    cross join totals

)

select * from final
