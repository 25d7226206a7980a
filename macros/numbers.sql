{#- A DOUBLE value as an exact decimal (9 places) for sums and averages, the one
    way the warehouse aggregates floats: a DOUBLE sum depends on the order
    parallel threads add the rows in, so the same input would give different
    last digits between builds; a decimal sum does not (same input, same
    bytes). Cast the aggregate back to double where the column is a double. -#}
{% macro exact_value(value) -%}
  cast({{ value }} as decimal(38, 9))
{%- endmacro %}
