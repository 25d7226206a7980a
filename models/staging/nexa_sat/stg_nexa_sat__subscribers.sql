{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable Nexa_Sat subscribers, typed and renamed to the canonical contract.
    One row per subscriber: it feeds both int_customers and int_subscriptions. -#}

with checked as (

    select * from {{ ref('base_nexa_sat__subscribers') }}

),

final as (

    select
        customer_id,
        customer_id || '#1'     as subscription_id,
        gender,
        is_senior_citizen,
        has_partner,
        has_dependents,
        has_multiple_lines,
        has_tech_support,
        call_duration,
        data_usage,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        is_churned
    from checked
    where rejection_reason is null

)

select * from final
