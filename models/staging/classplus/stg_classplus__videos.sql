{{ config(enabled=dataset_adapter_enabled()) }}
{#- Monthly video output as canonical events: one 'video_published' event per
    creator-month with videos > 0, value = videos published that month. -#}

with months as (

    select * from {{ ref('stg_classplus__org_months') }}

),

final as (

    select
        customer_id,
        cast(activity_month as timestamp)   as event_at,
        'video_published'                   as event_name,
        videos                              as value
    from months
    where videos > 0

)

select * from final
