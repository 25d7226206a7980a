{{ config(enabled=dataset_adapter_enabled()) }}
{#- customers input rows staging could not use, with the reason, file and line; unioned into rejected_rows. -#}
{{ files_rejected('base_files__customers', 'customers') }}
