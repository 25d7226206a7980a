{#- Contractual CLV per CLV segment (customer_clv) and plan level: customers with
    an open subscription, their total and mean contractual CLV and mean DERL,
    summed as exact decimals (exact_value) so re-runs give the same bytes. -#}

with customers as (

    select * from {{ ref('contractual_clv') }}

),

final as (

    select
        coalesce(clv_segment, '(no CLV segment)')                       as clv_segment,
        coalesce(plan_level, '(none)')                                  as plan_level,
        count(*)                                                        as customers,
        cast(sum(contractual_clv) as decimal(18, 2))                    as total_contractual_clv,
        cast(round(avg(contractual_clv), 2) as decimal(18, 2))          as avg_contractual_clv,
        round(cast(avg({{ exact_value('derl') }}) as double), 6)    as avg_derl
    from customers
    group by all

)

select * from final
