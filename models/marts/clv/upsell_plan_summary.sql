{#- Average bill and tenure by plan level among the segments in
    var('upsell_segments') (default High + Moderate Value): the up-sell table. -#}

with clv as (

    select * from {{ ref('customer_clv') }}
    where clv_segment in (
        {%- for s in setting('upsell_segments') %}{{ sql_literal(s) }}{{ ', ' if not loop.last }}{% endfor -%}
    )

),

final as (

    select
        plan_level,
        count(*)                                          as customers,
        avg(monthly_amount)                               as avg_monthly_amount,
        avg({{ round_half_even('monthly_amount') }})      as avg_monthly_amount_int,
        avg(tenure_months)                                as avg_tenure_months
    from clv
    group by plan_level

)

select * from final
