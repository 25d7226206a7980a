{{ config(enabled=dataset_adapter_enabled()) }}
{#- CDNOW rows staging could not use; unioned into rejected_rows. -#}
{{ quarantined_rows('base_cdnow__transactions', 'cdnow_transactions', "transaction_id") }}
