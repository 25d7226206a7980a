{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable customers from the input files, in the canonical contract. Without a
    customers input, the customers are the ids the other inputs' usable rows use
    (every other attribute null): docs/DESIGN.md, the input layer. -#}
-- depends_on: {{ ref('base_files__transactions') }}, {{ ref('base_files__events') }}, {{ ref('base_files__subscriptions') }}
{%- if not execute or input_source('customers').kind is not none %}
{{ files_used('base_files__customers', 'customers') }}
{%- else %}
{%- do log("dataset '" ~ var('dataset') ~ "': no customers input -> customers are the ids used by the transactions, events and subscriptions.", info=true) %}
with ids as (

    {%- for entity in ['transactions', 'events', 'subscriptions'] %}
    select customer_id from {{ ref('base_files__' ~ entity) }} where rejection_reason is null
    {{ 'union' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        {%- for name, type in contract()['customers'] %}
        {{ 'customer_id' if name == 'customer_id' else 'cast(null as ' ~ type ~ ') as ' ~ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from ids

)

select * from final
{%- endif %}
