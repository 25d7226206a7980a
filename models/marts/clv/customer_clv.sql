{#- Historical CLV, a weighted clv_score and percentile segments, one row per
    scored customer. The value comes from the resolved var clv_source (see
    int_customer_value_features): subscription revenue billed (bill x months),
    net transaction spend, or both. The score is customer_clv_score's, the
    cut-offs clv_segment_cutoffs', the segment rule clv_segment_case()
    (macros/clv_settings.sql). -#}

with scored as (

    select * from {{ ref('customer_clv_score') }}
    where is_scored

),

cutoffs as (

    {{ clv_segment_cutoff_row(ref('clv_segment_cutoffs')) }}

),

final as (

    select
        scored.customer_id,
        scored.plan_level,
        scored.plan_type,
        scored.monthly_amount,
        scored.tenure_months,
        scored.clv,
        scored.clv_score,
        {{ clv_segment_case('scored.clv_score', 'cutoffs', 'label') }} as clv_segment,
        {{ clv_segment_case('scored.clv_score', 'cutoffs', 'rank') }} as clv_segment_rank,
        scored.clv_source,
        scored.total_spend,
        scored.subscription_revenue,
        scored.orders,
        scored.is_active_customer
    from scored
    cross join cutoffs

)

select * from final
