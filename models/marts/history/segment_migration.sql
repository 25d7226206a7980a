{#- From segment x to segment y between two as-of dates of segment_history, per
    segment kind (macros/history.sql: the pairs, the kinds, the none label). -#}

with

moves as (

    {{ segment_moves_sql(ref('segment_history')) }}

),

final as (

    select
        from_as_of_date,
        to_as_of_date,
        segment_kind,
        from_segment,
        to_segment,
        count(*)                                          as customers,
        cast(sum(to_value) as decimal(38, 2))             as value,
        cast(sum(from_value) as decimal(38, 2))           as from_value
    from moves
    group by all

)

select * from final
order by from_as_of_date, to_as_of_date, segment_kind, from_segment, to_segment
