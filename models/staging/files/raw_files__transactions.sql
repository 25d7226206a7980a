{{ config(enabled=dataset_adapter_enabled()) }}
{#- The raw rows of the transactions input when it is a folder of parts, as the reader returns
    them, each build appending only the parts not loaded before (a changed part is
    re-read); one row per part is the ledger. Empty for a single file or a table.
    Kept in the build database, not published. macros/file_inputs.sql. -#}
{{ files_raw('transactions') }}
