{{ config(enabled=dataset_adapter_enabled()) }}
{#- Creators as canonical customers: signed up at their first active month. -#}

with months as (

    select * from {{ ref('stg_classplus__org_months') }}

),

final as (

    select
        customer_id,
        cast(min(activity_month) as timestamp) as signed_up_at
    from months
    group by customer_id

)

select * from final
