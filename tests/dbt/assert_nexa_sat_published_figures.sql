{#- The telecom study's published figures (docs/STUDIES.md section 1), each compared
    with what the marts compute. Returns one row per figure that differs. -#}
{{ config(enabled=(var('dataset') == 'nexa_sat' and not (var('raw_files', {}) or {}))) }}

with figures as (

    select 'users' as figure, (select sum(customers) from {{ ref('plan_level_summary') }})::double as actual, 7043 as expected
    union all select 'active users', (select sum(active_customers) from {{ ref('plan_level_summary') }}), 4272
    union all select 'Premium users', (select customers from {{ ref('plan_level_summary') }} where plan_level = 'Premium'), 3580
    union all select 'Basic users', (select customers from {{ ref('plan_level_summary') }} where plan_level = 'Basic'), 3463
    union all select 'revenue', (select sum(monthly_recurring_revenue) from {{ ref('plan_level_summary') }}), 1054953.70
    union all select 'Basic revenue', (select monthly_recurring_revenue from {{ ref('plan_level_summary') }} where plan_level = 'Basic'), 426622.00
    union all select 'Premium revenue', (select monthly_recurring_revenue from {{ ref('plan_level_summary') }} where plan_level = 'Premium'), 628331.70
    union all select 'Basic Prepaid customers', (select customers from {{ ref('churn_by_plan') }} where plan_level = 'Basic' and plan_type = 'Prepaid'), 1108
    union all select 'Basic Prepaid churned', (select churned_customers from {{ ref('churn_by_plan') }} where plan_level = 'Basic' and plan_type = 'Prepaid'), 623
    union all select 'Basic Postpaid customers', (select customers from {{ ref('churn_by_plan') }} where plan_level = 'Basic' and plan_type = 'Postpaid'), 2355
    union all select 'Basic Postpaid churned', (select churned_customers from {{ ref('churn_by_plan') }} where plan_level = 'Basic' and plan_type = 'Postpaid'), 1583
    union all select 'Premium Prepaid customers', (select customers from {{ ref('churn_by_plan') }} where plan_level = 'Premium' and plan_type = 'Prepaid'), 1832
    union all select 'Premium Prepaid churned', (select churned_customers from {{ ref('churn_by_plan') }} where plan_level = 'Premium' and plan_type = 'Prepaid'), 220
    union all select 'Premium Postpaid customers', (select customers from {{ ref('churn_by_plan') }} where plan_level = 'Premium' and plan_type = 'Postpaid'), 1748
    union all select 'Premium Postpaid churned', (select churned_customers from {{ ref('churn_by_plan') }} where plan_level = 'Premium' and plan_type = 'Postpaid'), 345
    union all select 'Premium avg tenure', (select round(avg_tenure_months, 2) from {{ ref('plan_level_summary') }} where plan_level = 'Premium'), 32.16
    union all select 'Basic avg tenure', (select round(avg_tenure_months, 2) from {{ ref('plan_level_summary') }} where plan_level = 'Basic'), 16.61
    union all select 'High Value', (select count(*) from {{ ref('customer_clv') }} where clv_segment = 'High Value'), 641
    union all select 'Moderate Value', (select count(*) from {{ ref('customer_clv') }} where clv_segment = 'Moderate Value'), 1495
    union all select 'Low Value', (select count(*) from {{ ref('customer_clv') }} where clv_segment = 'Low Value'), 1068
    union all select 'Churn Risk', (select count(*) from {{ ref('customer_clv') }} where clv_segment = 'Churn Risk'), 1068
    union all select 'p25', (select round(clv_score_cutoff, 3) from {{ ref('clv_segment_cutoffs') }} where percentile = 0.25), 70.465
    union all select 'p50', (select round(clv_score_cutoff, 3) from {{ ref('clv_segment_cutoffs') }} where percentile = 0.50), 87.945
    union all select 'p85', (select round(clv_score_cutoff, 3) from {{ ref('clv_segment_cutoffs') }} where percentile = 0.85), 144.148
    union all select 'upsell Premium bill', (select round(avg_monthly_amount_int, 2) from {{ ref('upsell_plan_summary') }} where plan_level = 'Premium'), 200.97
    union all select 'upsell Premium tenure', (select round(avg_tenure_months, 2) from {{ ref('upsell_plan_summary') }} where plan_level = 'Premium'), 35.17
    union all select 'upsell Premium users', (select customers from {{ ref('upsell_plan_summary') }} where plan_level = 'Premium'), 1917
    union all select 'upsell Basic bill', (select round(avg_monthly_amount_int, 2) from {{ ref('upsell_plan_summary') }} where plan_level = 'Basic'), 241.42
    union all select 'upsell Basic tenure', (select round(avg_tenure_months, 2) from {{ ref('upsell_plan_summary') }} where plan_level = 'Basic'), 17.18
    union all select 'upsell Basic users', (select customers from {{ ref('upsell_plan_summary') }} where plan_level = 'Basic'), 219
    union all select 'senior tech support', (select count(*) from {{ ref('campaign_targets') }} where campaign = 'senior_tech_support'), 115
    union all select 'churn-risk discount', (select count(*) from {{ ref('campaign_targets') }} where campaign = 'churn_risk_premium_discount'), 753
    union all select 'multiple-lines offer', (select count(*) from {{ ref('campaign_targets') }} where campaign = 'multiple_lines_offer'), 376
    union all select 'premium upgrade', (select count(*) from {{ ref('campaign_targets') }} where campaign = 'premium_upgrade'), 185
    union all select 'duplicate ids', (select duplicate_keys from {{ ref('data_quality_report') }} where is_key), 0
    union all select 'null values', (select sum(null_values) from {{ ref('data_quality_report') }}), 0

)

select * from figures
where actual is null or abs(actual - expected) > 0.000001
