{{ config(enabled=dataset_adapter_enabled()) }}
{#- LITA customers: one row per CustomerID with the region of their rows
    (every row of a customer carries the same region; regions_seen checks it) and first start. -#}

with subscriptions as (

    select * from {{ ref('stg_lita__subscriptions') }}

),

final as (

    select
        customer_id,
        min(started_at)                                 as signed_up_at,
        min(region)                                     as region,
        count(distinct region)                          as regions_seen
    from subscriptions
    group by customer_id

)

select * from final
