{#- Kept across builds (see _history__models.yml): an incremental table that each
    build extends with the rows of its as-of date. delete+insert on as_of_date removes
    every row of that date before inserting the new ones, so re-running an as-of date
    replaces it (a customer no longer known at that date leaves no stale row) and the
    other dates are kept. full_refresh=false: `dbt build --full-refresh` keeps it too
    (macros/carried.sql). -#}
{{ carried_table_config('as_of_date') }}

{%- set cluster_methods = setting('cluster_methods') -%}
{%- set cluster_method = cluster_methods[0] if cluster_methods else none %}

with

as_of as (

    select {{ as_of_date() }} as as_of_date

),

-- every customer known at the as-of date (the point-in-time population)
customers as (

    select
        customer_id,
        historical_value
    from {{ ref('int_customer_value_features') }}

),

rfm as (

    select
        customer_id,
        rfm_segment
    from {{ ref('customer_rfm') }}

),

clv as (

    select
        customer_id,
        clv_segment
    from {{ ref('customer_clv') }}

),

clusters as (

    select
        customer_id,
        method,
        cluster_id,
        value_tier
    from {{ ref('customer_clusters') }}
    where method = {{ "'" ~ cluster_method ~ "'" if cluster_method else 'null' }}

),

churn as (

    select
        customer_id,
        risk_band
    from {{ ref('customer_churn_risk') }}

),

final as (

    select
        as_of.as_of_date,
        c.customer_id,
        rfm.rfm_segment,
        clv.clv_segment,
        clusters.value_tier,
        clusters.method                                   as cluster_method,
        clusters.cluster_id,
        cast(clusters.cluster_id as varchar)              as cluster_label,
        churn.risk_band                                   as churn_risk_band,
        cast(c.historical_value as decimal(18, 2))        as value,
        '{{ invocation_id }}'                             as build_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at
    from customers as c
    cross join as_of
    left join rfm using (customer_id)
    left join clv using (customer_id)
    left join clusters using (customer_id)
    left join churn using (customer_id)
    -- a dataset without any date (the telecom snapshot) has no as-of date, hence
    -- no time axis to keep a history on: no rows
    where as_of.as_of_date is not null

)

select * from final
order by customer_id
