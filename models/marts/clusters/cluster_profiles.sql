{#- Per clustering method and cluster: size and share of customers, share of the
    value measure (var cluster_value_column: revenue / GMV), of activity when the
    input has it, and the mean of every numeric input feature (mean_<feature>).
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set value_column = setting('cluster_value_column') -%}
{%- set input_columns = [] -%}
{%- if execute -%}
  {%- for col in adapter.get_columns_in_relation(ref('cluster_input')) -%}
    {%- if col.name != 'customer_id' and (col.is_number() or (col.dtype | lower) in ['double', 'float', 'bigint', 'integer', 'hugeint', 'smallint'] or (col.dtype | lower).startswith('decimal')) -%}
      {%- do input_columns.append(col.name) -%}
    {%- endif -%}
  {%- endfor -%}
{%- endif %}

with labels as (

    select * from {{ ref('customer_clusters') }}

),

features as (

    select * from {{ ref('cluster_input') }}

),

joined as (

    select
        labels.method,
        labels.cluster_id,
        labels.value_tier,
        labels.is_outlier,
        features.*
    from labels
    inner join features using (customer_id)

),

aggregated as (

    select
        method,
        cluster_id,
        value_tier,
        count(*)                                                    as customers,
        cast(sum({{ exact_value(value_column) }}) as double)         as value_total
        {%- for c in input_columns %},
        cast(avg({{ exact_value(adapter.quote(c)) }}) as double)    as mean_{{ c }}
        {%- endfor %}
    from joined
    group by method, cluster_id, value_tier

),

final as (

    select
        method,
        cluster_id,
        value_tier,
        customers,
        {{ safe_divide('customers', 'sum(customers) over (partition by method)') }}      as customer_share,
        value_total,
        {{ safe_divide('value_total', 'sum(value_total) over (partition by method)') }}  as value_share
        {%- for c in input_columns %},
        mean_{{ c }}
        {%- endfor %}
    from aggregated

)

select * from final
