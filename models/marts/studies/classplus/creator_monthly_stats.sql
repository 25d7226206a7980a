{#- Creator study, basic statistics per month: active creators, videos, GMV,
    GMV per video overall, and the mean and median of the creators' own GMV per
    video (over creators who published that month). Only rows known at the as-of
    date (is_on_or_before_as_of): the as-of month runs to the as-of day and no
    later month is listed. -#}

with matrix_events as (

    select
        customer_id,
        cast(date_trunc('month', event_at) as date) as activity_month,
        sum(value)                                  as videos
    from {{ ref('int_events') }}
    where event_name = 'video_published'
      and {{ is_on_or_before_as_of('event_at') }}
    group by 1, 2

),

gmv as (

    select
        customer_id,
        cast(date_trunc('month', transacted_at) as date) as activity_month,
        -- exact decimal sums (cast to double at the end): the same bytes
        -- whatever order the rows are added in
        sum(amount)                                     as gmv
    from {{ ref('int_transactions') }}
    where {{ is_on_or_before_as_of('transacted_at') }}
    group by 1, 2

),

creator_months as (

    select
        customer_id,
        activity_month,
        coalesce(matrix_events.videos, 0)   as videos,
        coalesce(gmv.gmv, 0)                as gmv
    from matrix_events
    full outer join gmv using (customer_id, activity_month)

),

final as (

    select
        activity_month,
        count(*) filter (where videos > 0)                          as active_creators,
        count(*) filter (where gmv > 0)                             as earning_creators,
        sum(videos)                                                 as videos,
        cast(sum(gmv) as double)                                    as gmv,
        {{ safe_divide('sum(gmv)', 'sum(videos)') }}                as gmv_per_video,
        -- the mean of doubles added in one fixed order (sorted): avg() adds them in
        -- whatever order its threads meet the rows, which can move the last bit
        list_avg(list_sort(list(gmv / videos) filter (where videos > 0)))
                                                                    as mean_creator_gmv_per_video,
        quantile_cont(gmv / videos, 0.5) filter (where videos > 0)  as median_creator_gmv_per_video
    from creator_months
    group by activity_month

)

select * from final
