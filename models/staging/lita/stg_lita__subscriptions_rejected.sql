{{ config(enabled=dataset_adapter_enabled()) }}
{#- LITA rows staging could not use; unioned into rejected_rows. -#}
{{ quarantined_rows('base_lita__subscriptions', 'lita_subscriptions', "customer_id") }}
