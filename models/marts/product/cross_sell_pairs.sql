{#- Items bought together (market-basket pairs), one row per unordered pair
    item_a < item_b.
    - items: product categories or products, var('cross_sell_level')
      (category | product, default category);
    - baskets: var('cross_sell_basket'):
        'order' (default): one order = a customer's lines with one order_id;
          a line without an order_id is in its customer-day basket (as below);
        'customer_day': a customer's lines of one calendar day
          (cast(transacted_at as date)), whatever their order_id;
        'customer_lifetime': everything a customer bought up to the as-of date
          (lifetime co-purchase: it rises with how much a customer buys, so
          lift is above 1 for most pairs; it is not order-level affinity);
    - refunds (amount < 0) are not purchases: an item is in a basket when the
      basket holds more sale rows (amount >= 0) than refund rows of it, so a
      refund never puts an item in a basket and a basket of refunds only is
      no basket. A refund counts in the basket it was recorded in (its order,
      or its customer-day when it has no order_id): a refund recorded later
      without the order's id does not remove the sale;
    - N = baskets holding at least one item. support = baskets_both / N,
      confidence_a_to_b = baskets_both / baskets_a (share of a's baskets that
      also hold b), confidence_b_to_a = baskets_both / baskets_b,
      lift = support / (support_a x support_b)
           = baskets_both x N / (baskets_a x baskets_b);
    - only pairs with support >= var('cross_sell_min_support') (default 0.01).
      Items whose own support is below it are dropped before pairing (exact:
      a pair's support never exceeds its items'), and pairs are counted by a
      self-join of the DISTINCT (basket, item) rows aggregated on the fly, so
      the work is bounded by the sum over baskets of items^2 / 2.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set level = setting('cross_sell_level') -%}
{%- set item_column = 'product_category' if level == 'category' else 'product_id' -%}
{%- set basket = setting('cross_sell_basket') -%}
{#- a basket is keyed by typed columns, not a built string (cheaper to group and join):
    'order' by (customer_id, basket_order, basket_day), basket_day set only for a line
    without an order_id (its customer-day); 'customer_day' by (customer_id, basket_day) -#}
{%- set basket_keys = {'customer_lifetime': ['customer_id'], 'customer_day': ['customer_id', 'basket_day']}.get(basket, ['customer_id', 'basket_order', 'basket_day']) -%}
{%- set min_support = setting('cross_sell_min_support') %}

with transactions as (

    select * from {{ ref('int_transactions') }}
    where
        {{ item_column }} is not null
        and {{ is_on_or_before_as_of('transacted_at') }}

),

lines as (

    select
        customer_id,
        {%- if basket == 'order' %}
        -- an order, or the customer-day of a line without order_id
        order_id as basket_order,
        case when order_id is null then cast(transacted_at as date) end as basket_day,
        {%- elif basket == 'customer_day' %}
        cast(transacted_at as date) as basket_day,
        {%- endif %}
        {{ item_column }} as item,
        amount
    from transactions

),

basket_lines as (

    select
        {{ basket_keys | join(', ') }},
        item,
        sum(case when {{ is_refund('amount') }} then -1 else 1 end) as net_lines
    from lines
    group by {{ basket_keys | join(', ') }}, item

),

basket_items as (

    select {{ basket_keys | join(', ') }}, item
    from basket_lines
    where net_lines > 0

),

basket_count as (

    select count(*) as baskets
    from (select distinct {{ basket_keys | join(', ') }} from basket_items) as distinct_baskets

),

item_baskets as (

    select
        basket_items.item,
        count(*) as baskets_with_item,
        {{ safe_divide('count(*)', 'max(basket_count.baskets)') }} as item_support
    from basket_items
    cross join basket_count
    group by basket_items.item

),

frequent_items as (

    select * from item_baskets
    where item_support >= cast({{ min_support }} as double)

),

frequent_basket_items as (

    select basket_items.*
    from basket_items
    inner join frequent_items
        on frequent_items.item = basket_items.item

),

pair_counts as (

    select
        a.item as item_a,
        b.item as item_b,
        count(*) as baskets_both
    from frequent_basket_items as a
    inner join frequent_basket_items as b
        on {% for key in basket_keys %}b.{{ key }} is not distinct from a.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
        and a.item < b.item
    group by a.item, b.item

),

final as (

    select
        pair_counts.item_a,
        pair_counts.item_b,
        {{ sql_literal(level) }} as item_level,
        {{ sql_literal(basket) }} as basket_type,
        pair_counts.baskets_both,
        a.baskets_with_item as baskets_a,
        b.baskets_with_item as baskets_b,
        basket_count.baskets,
        {{ safe_divide('pair_counts.baskets_both', 'basket_count.baskets') }} as support,
        a.item_support as support_a,
        b.item_support as support_b,
        {{ safe_divide('pair_counts.baskets_both', 'a.baskets_with_item') }} as confidence_a_to_b,
        {{ safe_divide('pair_counts.baskets_both', 'b.baskets_with_item') }} as confidence_b_to_a,
        {{ safe_divide('cast(pair_counts.baskets_both as double) * basket_count.baskets',
                       'cast(a.baskets_with_item as double) * b.baskets_with_item') }} as lift
    from pair_counts
    inner join frequent_items as a
        on a.item = pair_counts.item_a
    inner join frequent_items as b
        on b.item = pair_counts.item_b
    cross join basket_count
    where {{ safe_divide('pair_counts.baskets_both', 'basket_count.baskets') }} >= cast({{ min_support }} as double)

)

select * from final
