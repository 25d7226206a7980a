{#- One row per customer: BTYD frequency / recency / T / monetary_value (as
    lifetimes' summary_data_from_transaction_data computes them), activity
    figures, r/f/m scores on configurable scorers, the rfm code and a named
    segment from the segment-map seed. Rules: models/marts/rfm/_rfm__models.yml.
    Empty when the dataset has no transactions at all. -#}
{{- validate_rfm_settings() -}}
{%- set time_unit = setting('rfm_time_unit') -%}
{%- set multiplier = setting('rfm_freq_multiplier') -%}
{%- set scheme = rfm_scheme() %}

with as_of as (

    select
        {{ as_of_date() }} as as_of_date

),

customers as (

    -- the customers known at the as-of date (as customer_feature_ctes): signed
    -- up by then, or with no sign-up date recorded
    select customers.customer_id
    from {{ ref('int_customers') }} as customers
    where {{ is_signed_up_by_as_of('customers', as_of_end('(select as_of_date from as_of)')) }}

),

transactions as (

    select
        customer_id,
        transaction_id,
        transacted_at,
        amount
    from {{ ref('int_transactions') }}

),

any_transaction as (

    -- a dataset without any transaction (e.g. subscriptions only) gets no rows; any row will do (AM09)
    select 1 as found from {{ ref('int_transactions') }} limit 1 -- noqa: AM09

),

{{ rfm_btyd_ctes('transactions', 'as_of', [], time_unit, multiplier) }},

purchasers as (

    -- the scored population: customers with at least one purchase, plus the
    -- activity measures a scheme may score on (customer_monthly_matrix):
    -- months since the last active month (the creator study's recency),
    -- activity (e.g. videos) and revenue over the matrix window
    select
        rfm_purchasers.*,
        activity.activity_recency_months,
        activity.total_activity,
        activity.total_revenue
    from rfm_purchasers
    left join {{ ref('customer_monthly_matrix') }} as activity using (customer_id)

),

{{ rfm_segment_ctes('purchasers', [], scheme, setting('rfm_segment_map')) }},

final as (

    select
        customers.customer_id,
        scored.frequency,
        scored.recency,
        scored.T,
        scored.monetary_value,
        coalesce(scored.orders, 0) as orders,
        coalesce(cast(rfm_customer_summary.total_spend as decimal(18, 2)), cast(0 as decimal(18, 2))) as total_spend,
        scored.first_purchase_at,
        scored.last_purchase_at,
        scored.days_since_last_purchase,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ rfm_code('scored.r_score', 'scored.f_score', 'scored.m_score') }} as rfm_code,
        case
            when scored.customer_id is null then {{ sql_literal(setting('rfm_no_purchase_segment')) }}
            else coalesce(combination_segments.segment, 'Unmapped')
        end as rfm_segment,
        combination_segments.segment_rank as rfm_segment_rank,
        as_of.as_of_date
    from customers
    cross join any_transaction
    cross join as_of
    left join rfm_customer_summary on rfm_customer_summary.customer_id = customers.customer_id
    left join scored on scored.customer_id = customers.customer_id
    left join combination_segments
        on
            combination_segments.r_score = scored.r_score
            and combination_segments.f_score = scored.f_score
            and combination_segments.m_score = scored.m_score

)

select * from final
