{{ config(enabled=dataset_adapter_enabled()) }}
{#- CDNOW customers: the sample's customer ids, signed up at their first purchase. -#}

with transactions as (

    select * from {{ ref('stg_cdnow__transactions') }}

),

final as (

    select customer_id, min(transacted_at) as signed_up_at
    from transactions
    group by customer_id

)

select * from final
