{#- Nexa_Sat rows staging could not use, with the reason; unioned into rejected_rows. -#}

with checked as (

    select * from {{ ref('base_nexa_sat__subscribers') }}

),

final as (

    select
        'nexa_sat'                                  as dataset,
        'nexa_sat_subscribers'                      as source_table,
        coalesce(customer_id, '(missing)')          as row_key,
        rejection_reason                            as reason,
        cast(raw_row as varchar)                    as raw_row,
        -- identical raw rows (exact copies) are told apart by their copy number
        row_number() over (partition by raw_row order by rejection_reason) as copy_number
    from checked
    where rejection_reason is not null

)

select * from final
