{{ config(enabled=dataset_adapter_enabled()) }}
{#- One donor per count of the summary, numbered D00001.. by pattern
    (frequency, recency, periods);
    signed up at the first donation (1995-07-01). The pattern is kept for the
    expansion into transactions. -#}

with summary as (

    select * from {{ ref('stg_donations__summary') }}

),

expanded as (

    select
        frequency,
        recency,
        periods,
        unnest(generate_series(1, donors)) as copy_number
    from summary

),

final as (

    select
        'D' || lpad(cast(row_number() over (order by frequency, recency, periods, copy_number) as varchar), 5, '0') as customer_id,
        timestamp '1995-07-01 00:00:00'                                 as signed_up_at,
        frequency,
        recency
    from expanded

)

select * from final
