{{ config(materialized='table') }}
{#- Every row of the customers input file, typed, with the reason it cannot be used
    (null when it can). One scan of the file; read by stg_files__customers and
    stg_files__customers_rejected. -#}
{{ files_base('customers', required=['customer_id'], key='customer_id', customer_check=false, extra_checks=[]) }}
