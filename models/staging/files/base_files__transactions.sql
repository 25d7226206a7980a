{{ config(materialized='table') }}
{#- Every row of the transactions input file, typed, with the reason it cannot be used
    (null when it can). One scan of the file; read by stg_files__transactions and
    stg_files__transactions_rejected. -#}
{{ files_base('transactions', required=['transaction_id', 'customer_id', 'transacted_at', 'amount'], key='transaction_id', customer_check=true, extra_checks=[]) }}
