{#- Customers whose RFM segment moved from one of setting('segment_downgrade_valuable_segments')
    at the previous as-of date of segment_history to one of
    setting('segment_downgrade_at_risk_segments') at the build's as-of date. -#}
{%- set valuable = setting('segment_downgrade_valuable_segments') -%}
{%- set at_risk = setting('segment_downgrade_at_risk_segments') %}

with

history as (

    select * from {{ segment_history_known(ref('segment_history')) }}

),

dates as (

    select
        max(as_of_date)                                                   as as_of_date,
        max(as_of_date) filter (where as_of_date < {{ as_of_date() }})    as previous_as_of_date
    from history
    where as_of_date <= {{ as_of_date() }}

),

final as (

    select
        t.customer_id,
        d.previous_as_of_date,
        t.as_of_date,
        f.rfm_segment                                     as previous_rfm_segment,
        t.rfm_segment,
        f.value                                           as previous_value,
        t.value,
        t.clv_segment,
        t.churn_risk_band
    from dates as d
    inner join history as f on f.as_of_date = d.previous_as_of_date
    inner join history as t on t.as_of_date = d.as_of_date and t.customer_id = f.customer_id
    where
        d.as_of_date = {{ as_of_date() }}
        and f.rfm_segment in ({% for s in valuable %}'{{ s | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
        and t.rfm_segment in ({% for s in at_risk %}'{{ s | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})

)

select * from final
order by customer_id
