{#- The refund rule, the one definition: a transaction with a negative amount is
    a refund; every other transaction (amount >= 0, including $0.00 ones, which
    the CDNOW study's published fit counts) is a purchase. Refunds are netted
    into spend and revenue (of their period, customer, product, ...) but are
    never orders, purchases or purchase dates. `amount` is a SQL expression. -#}
{% macro is_purchase(amount) -%}
  ({{ amount }} >= 0)
{%- endmacro %}

{% macro is_refund(amount) -%}
  ({{ amount }} < 0)
{%- endmacro %}
