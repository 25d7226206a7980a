{#- The RFM segment mix of every cluster: per method, cluster and RFM segment,
    customers and their share of the cluster. -#}

with labels as (

    select * from {{ ref('customer_clusters') }}

),

rfm as (

    select
        customer_id,
        rfm_segment
    from {{ ref('customer_rfm') }}

),

counted as (

    select
        labels.method,
        labels.cluster_id,
        labels.value_tier,
        coalesce(rfm.rfm_segment, 'No Purchases')   as rfm_segment,
        count(*)                                    as customers
    from labels
    left join rfm using (customer_id)
    group by all

),

final as (

    select
        *,
        {{ safe_divide('customers', 'sum(customers) over (partition by method, cluster_id)') }} as share_of_cluster
    from counted

)

select * from final
