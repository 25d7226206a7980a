{{ config(enabled=dataset_adapter_enabled()) }}
{#- Creator-month rows staging could not use; unioned into rejected_rows. -#}
{{ quarantined_rows('base_classplus__org_months', 'classplus_org_month', "customer_id || ' ' || coalesce(cast(activity_month as varchar), '?')") }}
