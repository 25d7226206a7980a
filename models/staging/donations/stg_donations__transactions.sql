{{ config(enabled=dataset_adapter_enabled()) }}
{#- The donations (canonical contract): each donor's first donation on 1995-07-01
    and, with frequency x and recency t_x, one on 1 July of each of the years
    1995 + (t_x - x + 1) .. 1995 + t_x (the run of x years ending at the last
    donation). Each donation is 1.00 (the data have no amounts). -#}

with customers as (

    select * from {{ ref('stg_donations__customers') }}

),

years as (

    select customer_id, 0 as year_offset from customers
    union all
    select customer_id, unnest(generate_series(recency - frequency + 1, recency)) as year_offset
    from customers
    where frequency > 0

),

final as (

    select
        customer_id || '-' || cast(1995 + year_offset as varchar)       as transaction_id,
        customer_id,
        timestamp '1995-07-01 00:00:00' + to_years(year_offset)         as transacted_at,
        cast(1.00 as decimal(18, 2))                                    as amount
    from years

)

select * from final
