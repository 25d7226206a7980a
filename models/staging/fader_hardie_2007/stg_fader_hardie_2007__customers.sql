{{ config(enabled=dataset_adapter_enabled()) }}
{#- The paper's customers: one per subscription, signed up when it started. -#}

with subscriptions as (

    select * from {{ ref('stg_fader_hardie_2007__subscriptions') }}

),

final as (

    select customer_id, min(started_at) as signed_up_at
    from subscriptions
    group by customer_id

)

select * from final
