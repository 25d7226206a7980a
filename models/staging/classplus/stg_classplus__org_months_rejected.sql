{#- Creator-month rows staging could not use; unioned into rejected_rows. -#}

with checked as (

    select * from {{ ref('base_classplus__org_months') }}

),

final as (

    select
        'classplus'                                         as dataset,
        'classplus_org_month'                               as source_table,
        coalesce(customer_id, '(missing)') || ' ' || coalesce(cast(activity_month as varchar), '?') as row_key,
        rejection_reason                                    as reason,
        raw_row,
        -- identical raw rows (exact copies) are told apart by their copy number
        row_number() over (partition by raw_row order by rejection_reason) as copy_number
    from checked
    where rejection_reason is not null

)

select * from final
