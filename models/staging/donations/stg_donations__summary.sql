{{ config(enabled=dataset_adapter_enabled()) }}
{#- The usable patterns of the donations summary,  -#}

with checked as (

    select * from {{ ref('base_donations__summary') }}

),

final as (

    select frequency, recency, periods, donors
    from checked
    where rejection_reason is null

)

select * from final
