{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Every raw CDNOW row, typed, with the reason it cannot be used. -#}

with source as (

    select * from {{ raw_relation('cdnow_transactions') }}

),

typed as (

    select
        'L' || lpad(trim(line_number), 5, '0')                              as transaction_id,
        nullif(ltrim(trim(customer_id), '0'), '')                           as customer_id,
        cast(try_strptime(trim(purchase_date), '%Y%m%d') as timestamp)      as transacted_at,
        try_cast(trim(dollar_value) as decimal(18, 2))                      as amount,
        try_cast(trim(cds) as integer)                                      as quantity,
        source                                                              as raw,
        cast(to_json(source) as varchar)                                    as raw_row
    from source

),

counted as (

    select *, count(*) over (partition by transaction_id) as id_copies
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("customer_id is null", "'missing customer_id'"),
            ("transacted_at is null", "'purchase_date is not a YYYYMMDD date: ' || coalesce('''' || raw.purchase_date || '''', 'null')"),
            ("amount is null", "'dollar_value is not a number: ' || coalesce('''' || raw.dollar_value || '''', 'null')"),
            (is_unparseable('raw.cds', 'quantity'), "'cds is not an integer'"),
            ("id_copies > 1", "'duplicate line_number'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
