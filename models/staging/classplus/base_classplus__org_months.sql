{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Every raw creator-month row, typed, with the reason it cannot be used. -#}

with source as (

    select * from {{ raw_relation('classplus_org_month') }}

),

typed as (

    select
        nullif(trim(org_id), '')                        as customer_id,
        try_cast(trim(month) as date)                   as activity_month,
        try_cast(trim(videos) as double)                as videos,
        try_cast(trim(gmv) as double)                   as gmv,
        source                                          as raw,
        cast(to_json(source) as varchar)                as raw_row
    from source

),

counted as (

    select
        *,
        count(*) over (partition by customer_id, activity_month) as month_copies
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("customer_id is null", "'missing org_id'"),
            (is_unparseable('raw.month', 'activity_month'), "'month is not a date: ' || '''' || raw.month || ''''"),
            ("nullif(trim(raw.month), '') is null", "'missing month'"),
            ("activity_month is not null and activity_month <> date_trunc('month', activity_month)", "'month is not the first day of a month'"),
            (is_unparseable('raw.videos', 'videos'), "'videos is not a number: ' || '''' || raw.videos || ''''"),
            (is_unparseable('raw.gmv', 'gmv'), "'gmv is not a number: ' || '''' || raw.gmv || ''''"),
            ("videos < 0", "'negative videos'"),
            ("gmv < 0", "'negative gmv'"),
            ("customer_id is not null and activity_month is not null and month_copies > 1", "'duplicate org_id and month (' || month_copies || ' rows)'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
