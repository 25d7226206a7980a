{{ config(materialized='table') }}
{#- Every row of the subscriptions input file, typed, with the reason it cannot be used
    (null when it can). One scan of the file; read by stg_files__subscriptions and
    stg_files__subscriptions_rejected. -#}
{{ files_base('subscriptions', required=['subscription_id', 'customer_id', 'plan_level', 'started_at'], key='subscription_id', customer_check=true, extra_checks=[('monthly_amount < 0', "'negative monthly_amount'"), ('ended_at < started_at', "'ended_at before started_at'"), ('tenure_months < 0', "'negative tenure_months'")]) }}
