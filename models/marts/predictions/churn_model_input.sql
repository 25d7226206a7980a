{#- Rows the churn and tier-change models learn from and score.
    temporal (datasets with dates): features as of cutoff = as-of date minus
    var churn_horizon_days for customers active then, labelled with what happened
    in the following window (split 'train'); the same features as of the as-of
    date for customers active now (split 'score', label unknown).
    snapshot (the telecom study: one row per customer, no history): every
    customer with its current churn flag (split 'snapshot'; the model scores each
    customer out-of-fold). Which applies: var churn_mode. -#}
{%- set mode = setting('churn_mode') -%}
{%- set horizon = setting('churn_horizon_days') | int -%}

{%- if mode == 'snapshot' %}

with features as (

    select * from {{ ref('int_customer_value_features') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

final as (

    select
        features.customer_id,
        'snapshot'                                  as split,
        features.is_churned                         as is_churned_next,
        cast(null as varchar)                       as tier_change_next,
        features.plan_level,
        features.plan_type,
        cast(features.monthly_amount as double)     as monthly_amount,
        features.tenure_months,
        cast(features.call_duration as double)      as call_duration,
        cast(features.data_usage as double)         as data_usage,
        customers.gender,
        customers.is_senior_citizen,
        customers.has_partner,
        customers.has_dependents,
        customers.has_multiple_lines,
        customers.has_tech_support
    from features
    inner join customers using (customer_id)
    where features.has_subscription

)

select * from final

{%- else %}

with cutoffs as (

    select cast({{ as_of_date() }} as date) - {{ horizon }} as cutoff_date
    union all
    select cast({{ as_of_date() }} as date)

),

{{ cutoff_feature_ctes('cutoffs', horizon) }},

final as (

    select
        customer_id,
        case when cutoff_date = (select min(cutoff_date) from cutoffs) then 'train' else 'score' end as split,
        case when cutoff_date = (select min(cutoff_date) from cutoffs) then is_churned_next end      as is_churned_next,
        case when cutoff_date = (select min(cutoff_date) from cutoffs) then tier_change_next end     as tier_change_next,
        * exclude (customer_id, cutoff_date, is_churned_next, tier_change_next, next_value, next_orders, is_active)
    from cutoff_features
    where is_active

)

select * from final

{%- endif %}
