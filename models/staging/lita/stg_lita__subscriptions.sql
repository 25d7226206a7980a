{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable LITA subscription periods in the canonical contract. A cancelled
    period ends with end_reason 'cancel'. -#}

with checked as (

    select * from {{ ref('base_lita__subscriptions') }}

),

final as (

    select
        subscription_id,
        customer_id,
        customer_name,
        region,
        plan_level,
        started_at,
        ended_at,
        case when is_churned then 'cancel' end                      as end_reason,
        is_churned,
        billed_amount,
        duration_days,
        -- monthly equivalent of the period's revenue (30.4375-day months)
        cast(round(billed_amount / nullif(duration_days, 0) * 30.4375, 2) as decimal(18, 2)) as monthly_amount
    from checked
    where rejection_reason is null

)

select * from final
