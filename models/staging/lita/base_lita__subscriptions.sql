{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Every raw LITA subscription row, typed, with the reason it cannot be used.
    The file has no row key: a row's key is the md5 of its raw content. -#}

with source as (

    select * from {{ raw_relation('lita_subscriptions') }}

),

typed as (

    select
        nullif(trim(CustomerID), '')                                    as customer_id,
        nullif(trim(CustomerName), '')                                  as customer_name,
        nullif(trim(Region), '')                                        as region,
        nullif(trim(SubscriptionType), '')                              as plan_level,
        cast(try_strptime(trim(SubscriptionStart), '%m/%d/%Y') as timestamp) as started_at,
        cast(try_strptime(trim(SubscriptionEnd), '%m/%d/%Y') as timestamp)   as ended_at,
        {{ parse_yes_no('Canceled') }}                                  as is_churned,
        try_cast(trim(Revenue) as decimal(18, 2))                       as billed_amount,
        try_cast(trim("Subscription duration") as integer)              as duration_days,
        source                                                          as raw,
        cast(to_json(source) as varchar)                                as raw_row
    from source

),

counted as (

    select
        *,
        md5(raw_row)                                                    as subscription_id,
        row_number() over (partition by raw_row)                        as exact_copy_number
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("customer_id is null", "'missing CustomerID'"),
            ("plan_level is null", "'missing SubscriptionType'"),
            ("started_at is null", "'SubscriptionStart is missing or not a m/d/Y date: ' || coalesce('''' || raw.SubscriptionStart || '''', 'null')"),
            (is_unparseable('raw.SubscriptionEnd', 'ended_at'), "'SubscriptionEnd is not a m/d/Y date: ' || '''' || raw.SubscriptionEnd || ''''"),
            ("ended_at < started_at", "'SubscriptionEnd before SubscriptionStart'"),
            (is_unparseable('raw.Canceled', 'is_churned'), "'unknown TRUE/FALSE value in Canceled: ' || '''' || raw.Canceled || ''''"),
            (is_unparseable('raw.Revenue', 'billed_amount'), "'Revenue is not a number: ' || '''' || raw.Revenue || ''''"),
            ("billed_amount < 0", "'negative Revenue'"),
            (is_unparseable('raw.\"Subscription duration\"', 'duration_days'), "'Subscription duration is not an integer'"),
            ("exact_copy_number > 1", "'exact duplicate of another row'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
