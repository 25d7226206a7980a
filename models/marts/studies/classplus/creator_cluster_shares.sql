{#- Creator study: per clustering method and cluster, the share of creators, of
    GMV and of videos (the study's finding: one DBSCAN group, the noise label,
    holds ~99% of GMV and ~96% of videos with about a third of the creators). -#}

with labels as (

    select * from {{ ref('customer_clusters') }}

),

creators as (

    select customer_id, total_activity as videos, total_revenue as gmv
    from {{ ref('customer_monthly_matrix') }}

),

grouped as (

    select
        labels.method,
        labels.cluster_id,
        labels.value_tier,
        count(*)            as creators,
        sum(creators.videos) as videos,
        sum(creators.gmv)    as gmv
    from labels
    inner join creators using (customer_id)
    group by all

),

final as (

    select
        *,
        {{ safe_divide('creators', 'sum(creators) over (partition by method)') }} as creator_share,
        {{ safe_divide('gmv', 'sum(gmv) over (partition by method)') }}           as gmv_share,
        {{ safe_divide('videos', 'sum(videos) over (partition by method)') }}     as video_share
    from grouped

)

select * from final
