{#- Per pair of as-of dates and segment kind: of the customers with a segment of
    that kind at the earlier date, how many kept it (macros/history.sql). -#}

with

moves as (

    {{ segment_moves_sql(ref('segment_history')) }}

),

final as (

    select
        from_as_of_date,
        to_as_of_date,
        segment_kind,
        count(*)                                                          as customers,
        count(*) filter (where to_segment = from_segment)                 as customers_kept,
        count(
            *) filter (
            where to_segment <> from_segment
            and to_segment <> {{ segment_history_none_label() }}
        ) as customers_moved,
        count(*) filter (where to_segment = {{ segment_history_none_label() }})  as customers_without_segment,
        cast(round(
            cast(count(*) filter (where to_segment = from_segment) as decimal(18, 0))
            / count(*), 6
        ) as decimal(7, 6
        ))                      as stability_share
    from moves
    where from_segment <> {{ segment_history_none_label() }}
    group by all

)

select * from final
order by from_as_of_date, to_as_of_date, segment_kind
