{#- Creator study: tenure vs production. Tenure = months from the first active
    month to the as-of month (counting both); per tenure, creators, average videos
    and GMV per creator and per active month. -#}

with creators as (

    select * from {{ ref('customer_monthly_matrix') }}

),

active_months as (

    select
        customer_id,
        {{ setting('monthly_matrix_months') }} + 1 - first_active_month_number   as tenure_months,
        total_activity                                                              as videos,
        total_revenue                                                               as gmv,
        (0 {% for i in range(1, (setting('monthly_matrix_months') | int) + 1) %} + (activity_m{{ '%02d' % i }} > 0)::int{% endfor %}) as active_months
    from creators
    where first_active_month_number is not null

),

final as (

    select
        tenure_months,
        count(*)                                        as creators,
        avg(videos)                                     as avg_videos,
        avg(gmv)                                        as avg_gmv,
        avg(active_months)                              as avg_active_months,
        {{ safe_divide('sum(videos)', 'sum(active_months)') }} as videos_per_active_month
    from active_months
    group by tenure_months

)

select * from final
