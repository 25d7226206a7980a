{#- LITA rows staging could not use; unioned into rejected_rows. -#}

with checked as (

    select * from {{ ref('base_lita__subscriptions') }}

),

final as (

    select
        'lita'                                  as dataset,
        'lita_subscriptions'                    as source_table,
        coalesce(customer_id, '(missing)')      as row_key,
        rejection_reason                        as reason,
        raw_row
    from checked
    where rejection_reason is not null

)

select * from final
