{{ config(enabled=dataset_adapter_enabled()) }}
{#- Nexa_Sat rows staging could not use, with the reason; unioned into rejected_rows. -#}
{{ quarantined_rows('base_nexa_sat__subscribers', 'nexa_sat_subscribers', "customer_id") }}
