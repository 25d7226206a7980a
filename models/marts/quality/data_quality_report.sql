{#- Per input table and column: rows, null (or blank) values, distinct values,
    and for the table's key column the rows whose key is shared with another row.
    Profiles the raw input, before staging rejects anything. -#}
{%- set inputs = current_dataset()['inputs'] -%}

with profiles as (
    {%- for input in inputs %}
    {%- set raw = raw_relation(input.raw) %}
    {%- set columns = [] %}
    {%- if execute %}
      {%- set columns = run_query('select * from ' ~ raw ~ ' limit 0').column_names %}
    {%- endif %}
    {%- for column in columns %}
    select
        '{{ var("dataset") }}'                                          as dataset,
        '{{ input.source_table }}'                                      as source_table,
        '{{ column }}'                                                  as column_name,
        {{ loop.index }}                                                as column_position,
        {{ 'true' if column == input.key else 'false' }}                as is_key,
        count(*)                                                        as rows,
        count(*) filter (where nullif(trim(cast({{ adapter.quote(column) }} as varchar)), '') is null) as null_values,
        count(distinct {{ adapter.quote(column) }})                     as distinct_values,
        {%- if column == input.key %}
        (select coalesce(sum(n), 0) from (
            select count(*) as n from {{ raw }}
            where nullif(trim(cast({{ adapter.quote(column) }} as varchar)), '') is not null
            group by {{ adapter.quote(column) }} having count(*) > 1))  as duplicate_keys
        {%- else %}
        cast(null as bigint)                                            as duplicate_keys
        {%- endif %}
    from {{ raw }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {{ 'union all' if not loop.last and columns | length > 0 }}
    {%- endfor %}
)

select * from profiles
