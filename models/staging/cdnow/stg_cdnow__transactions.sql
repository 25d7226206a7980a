{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable CDNOW transactions in the canonical contract. -#}

with checked as (

    select * from {{ ref('base_cdnow__transactions') }}

),

final as (

    select transaction_id, customer_id, transacted_at, amount, quantity
    from checked
    where rejection_reason is null

)

select * from final
