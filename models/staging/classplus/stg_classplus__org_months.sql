{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable creator-months: videos and GMV per creator per month (blank = 0). -#}

with checked as (

    select * from {{ ref('base_classplus__org_months') }}

),

final as (

    select
        customer_id,
        activity_month,
        coalesce(videos, 0)     as videos,
        coalesce(gmv, 0)        as gmv
    from checked
    where rejection_reason is null

)

select * from final
