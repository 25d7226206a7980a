{#- Creator study: the top 20% of creators by videos and by GMV (var
    top_share_fraction), and their overlap. "Top" = at or above the continuous
    (1 - fraction) percentile, so tied creators are never split. One row per group. -#}
{%- set fraction = setting('top_share_fraction') -%}

with creators as (

    select customer_id, total_activity as videos, total_revenue as gmv
    from {{ ref('customer_monthly_matrix') }}

),

cutoffs as (

    select
        {{ percentile_cont('videos', 1 - fraction) }} as videos_cutoff,
        {{ percentile_cont('gmv', 1 - fraction) }}    as gmv_cutoff
    from creators

),

flagged as (

    select
        creators.*,
        creators.videos >= cutoffs.videos_cutoff and creators.videos > 0 as is_top_by_videos,
        creators.gmv >= cutoffs.gmv_cutoff and creators.gmv > 0          as is_top_by_gmv
    from creators
    cross join cutoffs

),

groups as (

    select 'top by videos' as creator_group, * from flagged where is_top_by_videos
    union all
    select 'top by gmv', * from flagged where is_top_by_gmv
    union all
    select 'top by both', * from flagged where is_top_by_videos and is_top_by_gmv
    union all
    select 'all creators', * from flagged

),

totals as (

    select sum(videos) as all_videos, sum(gmv) as all_gmv, count(*) as all_creators from creators

),

final as (

    select
        creator_group,
        count(*)                                                    as creators,
        {{ safe_divide('count(*)', 'any_value(totals.all_creators)') }} as creator_share,
        sum(videos)                                                 as videos,
        {{ safe_divide('sum(videos)', 'any_value(totals.all_videos)') }} as video_share,
        sum(gmv)                                                    as gmv,
        {{ safe_divide('sum(gmv)', 'any_value(totals.all_gmv)') }}  as gmv_share
    from groups
    cross join totals
    group by creator_group

)

select * from final
