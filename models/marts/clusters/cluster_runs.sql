{#- One row per clustering method run in this build: what was chosen (k and the
    silhouette per k, eps) and whether the model was fitted on a sample. -#}

with labels as (

    select * from {{ ref('customer_clusters') }}

),

final as (

    select
        method,
        any_value(run_info)                                     as run_info,
        bool_or(fit_sampled)                                    as fit_sampled,
        max(n_fit)                                              as n_fit,
        count(*)                                                as customers,
        count(distinct cluster_id) filter (where cluster_id >= 0) as clusters,
        count(*) filter (where is_outlier)                      as outliers
    from labels
    group by method

)

select * from final
