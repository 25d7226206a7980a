{#- MetricFlow's time spine: one row per calendar day from the start of the
    plausible input window (var input_date_min) to the as-of date, nothing later. -#}

with days as (

    select cast(range as date) as date_day
    from range(
        cast({{ input_date_window().low }} as date),
        cast({{ as_of_date() }} as date) + interval 1 day,
        interval 1 day
    )

),

final as (

    select date_day from days

)

select * from final
