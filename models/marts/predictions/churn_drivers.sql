{#- The strongest predictors of churn and of tier changes: permutation importance
    (drop in ROC AUC when a feature is shuffled) from the models' run_info. -#}

with churn as (

    select any_value(run_info) as run_info from {{ ref('customer_churn_risk') }}

),

tier as (

    select any_value(run_info) as run_info from {{ ref('customer_tier_change_risk') }}

),

drivers as (

    select
        'churn' as target,
        d.*
    from churn,
        unnest(from_json(
            json_extract(churn.run_info, '$.drivers'),
            '[{"feature": "VARCHAR", "importance_mean": "DOUBLE", "importance_std": "DOUBLE", "rank": "INTEGER"}]'
        )) as u(d
        )
    where churn.run_info is not null
    union all
    select
        d.target,
        d.feature,
        d.importance_mean,
        d.importance_std,
        d.rank
    from tier,
        unnest(from_json(
            json_extract(tier.run_info, '$.drivers'),
            '[{"target": "VARCHAR", "feature": "VARCHAR", "importance_mean": "DOUBLE", "importance_std": "DOUBLE", "rank": "INTEGER"}]'
        )) as u(d
        )
    where tier.run_info is not null

),

final as (

    select
        target,
        feature,
        importance_mean,
        importance_std,
        rank
    from drivers

)

select * from final
