{{ config(enabled=dataset_adapter_enabled()) }}
{#- Monthly GMV as canonical transactions: one per creator-month with GMV > 0,
    dated the first day of the month. -#}

with months as (

    select * from {{ ref('stg_classplus__org_months') }}

),

final as (

    select
        customer_id || '@' || strftime(activity_month, '%Y-%m')    as transaction_id,
        customer_id,
        cast(activity_month as timestamp)                           as transacted_at,
        cast(round(gmv, 2) as decimal(18, 2))                       as amount,
        cast(videos as integer)                                     as quantity
    from months
    where gmv > 0

)

select * from final
