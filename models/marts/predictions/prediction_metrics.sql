{#- How well the churn and tier-change models predict, from their run_info: one
    row per model and target, with the out-of-fold ROC AUC on the labelled rows,
    precision and lift in the top decile of predicted probability, base rate. -#}

with runs as (

    select
        'churn' as model_name,
        any_value(run_info) as run_info
    from {{ ref('customer_churn_risk') }}
    union all
    select
        'tier_change',
        any_value(run_info)
    from {{ ref('customer_tier_change_risk') }}

),

targets as (

    select
        model_name,
        'churn' as target,
        run_info,
        '$.metrics.roc_auc' as auc_path,
        '$.metrics.precision_top_decile' as precision_path,
        '$.metrics.lift_top_decile' as lift_path,
        '$.metrics.base_rate' as base_path
    from runs
    where model_name = 'churn' and run_info is not null
    union all
    select
        model_name,
        t.target,
        run_info,
        '$.metrics.roc_auc_ovr.' || t.target,
        '$.metrics.precision_top_decile.' || t.target,
        '$.metrics.lift_top_decile.' || t.target,
        '$.metrics.base_rates.' || t.target
    from runs cross join (values ('upgrade'), ('downgrade'), ('churn')) as t(target)
    where model_name = 'tier_change' and run_info is not null

),

final as (

    select
        model_name,
        target,
        json_extract_string(run_info, '$.mode')                         as mode,
        json_extract_string(run_info, '$.model')                        as model,
        try_cast(json_extract_string(run_info, auc_path) as double)       as roc_auc,
        try_cast(json_extract_string(run_info, precision_path) as double) as precision_top_decile,
        try_cast(json_extract_string(run_info, lift_path) as double)      as lift_top_decile,
        try_cast(json_extract_string(run_info, base_path) as double)      as base_rate,
        try_cast(json_extract_string(run_info, '$.metrics.n_train') as bigint) as n_train
    from targets

)

select * from final
