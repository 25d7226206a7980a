{{ config(enabled=dataset_adapter_enabled()) }}
{#- Usable transactions from the input files, in the canonical contract. -#}
{{ files_used('base_files__transactions', 'transactions') }}
