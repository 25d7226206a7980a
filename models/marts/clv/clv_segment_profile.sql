with clv as (

    select * from {{ ref('customer_clv') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

final as (

    select
        clv.clv_segment,
        min(clv.clv_segment_rank)                                   as clv_segment_rank,
        count(*)                                                    as customers,
        avg(clv.monthly_amount)                                     as avg_monthly_amount,
        avg(clv.tenure_months)                                      as avg_tenure_months,
        avg(cast(customers.has_tech_support as integer))            as tech_support_share,
        avg(cast(customers.has_multiple_lines as integer))          as multiple_lines_share,
        sum(clv.clv)                                                as historical_value
    from clv
    left join customers using (customer_id)
    group by clv.clv_segment

)

select * from final
