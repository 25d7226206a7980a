{{ config(enabled=dataset_adapter_enabled()) }}
{#- Every raw row of the subscriptions input, typed exactly, with the reason it cannot be used
    (null when it can) and where it came from: a table, one scan of the input, whose
    hooks add the lines the CSV reader could not split and choose among rows sharing
    a key (macros/file_inputs.sql). -#}
{{ files_base('subscriptions') }}
