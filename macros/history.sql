{#- Segment history and movement (models/marts/history, issue 14).

    segment_history keeps, per as-of date and customer, the segments of record; the
    movement marts (segment_migration, segment_stability, segment_downgrade_campaign)
    all read it through the macros below, so "a pair of as-of dates", "the segment of
    a kind" and "a move" have one definition each. -#}


{#- The segment kinds the history records, in order: (kind, column of segment_history). -#}
{% macro segment_history_kinds() %}
  {{ return([
      ('rfm', 'rfm_segment'),
      ('clv', 'clv_segment'),
      ('value_tier', 'value_tier'),
      ('cluster', 'cluster_label'),
      ('churn_risk', 'churn_risk_band'),
  ]) }}
{% endmacro %}


{#- The label of "no segment of this kind at that date": the customer is not in the
    history at that as-of date, or was not scored by that kind (e.g. a lapsed customer
    has no CLV segment, a dataset without transactions no RFM segment). -#}
{% macro segment_history_none_label() -%}
  '(none)'
{%- endmacro %}


{#- The history rows a build may read: as-of dates on or before the build's own
    as-of date (nothing sees past it, even when a backfill wrote later dates first). -#}
{% macro segment_history_known(history) -%}
  (select * from {{ history }} where as_of_date <= {{ as_of_date() }})
{%- endmacro %}


{#- The pairs of as-of dates compared (from_as_of_date < to_as_of_date): every
    consecutive pair of as-of dates in the history, plus setting('segment_migration_pair')
    ([from, to], both in the history) when set. -#}
{% macro segment_history_pairs_sql(history) %}
  {%- set pair = setting('segment_migration_pair') -%}
    -- distinct: the setting's pair may also be a consecutive pair (counted once)
    select distinct from_as_of_date, to_as_of_date from (
        select
            lag(as_of_date) over (order by as_of_date) as from_as_of_date,
            as_of_date                                  as to_as_of_date
        from (select distinct as_of_date from {{ segment_history_known(history) }})
        {%- if pair is not none %}
        union all
        select cast('{{ pair[0] }}' as date), cast('{{ pair[1] }}' as date)
        where exists (select 1 from {{ segment_history_known(history) }} where as_of_date = cast('{{ pair[0] }}' as date))
          and exists (select 1 from {{ segment_history_known(history) }} where as_of_date = cast('{{ pair[1] }}' as date))
        {%- endif %}
    ) as p
    where from_as_of_date is not null
{% endmacro %}


{#- One row per pair of as-of dates (segment_history_pairs_sql), segment kind and
    customer present at either date: from_segment / to_segment (the none label when
    absent or unscored), from_value / to_value (historical value at each date, null
    when absent). A customer without a segment of the kind at both dates is left out. -#}
{% macro segment_moves_sql(history) %}
  {%- set none_label = segment_history_none_label() -%}
    with pairs as (
        {{ segment_history_pairs_sql(history) }}
    ),
    known as (
        select * from {{ segment_history_known(history) }}
    ),
    customers as (
        select distinct p.from_as_of_date, p.to_as_of_date, h.customer_id
        from pairs as p
        join known as h on h.as_of_date in (p.from_as_of_date, p.to_as_of_date)
    ),
    joined as (
        select
            c.from_as_of_date,
            c.to_as_of_date,
            c.customer_id,
            f.value as from_value,
            t.value as to_value
            {%- for kind, column in segment_history_kinds() %},
            f.{{ column }} as from_{{ kind }},
            t.{{ column }} as to_{{ kind }}
            {%- endfor %}
        from customers as c
        left join known as f on f.as_of_date = c.from_as_of_date and f.customer_id = c.customer_id
        left join known as t on t.as_of_date = c.to_as_of_date and t.customer_id = c.customer_id
    )
    {%- for kind, column in segment_history_kinds() %}
    {{ 'union all' if not loop.first }}
    select
        from_as_of_date,
        to_as_of_date,
        '{{ kind }}'                                   as segment_kind,
        customer_id,
        coalesce(cast(from_{{ kind }} as varchar), {{ none_label }}) as from_segment,
        coalesce(cast(to_{{ kind }} as varchar), {{ none_label }})   as to_segment,
        from_value,
        to_value
    from joined
    where from_{{ kind }} is not null or to_{{ kind }} is not null
    {%- endfor %}
{% endmacro %}
