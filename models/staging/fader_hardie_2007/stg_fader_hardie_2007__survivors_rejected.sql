{{ config(enabled=dataset_adapter_enabled()) }}
{#- Survivor rows staging could not use; unioned into rejected_rows. -#}
{{ quarantined_rows('base_fader_hardie_2007__survivors', 'fader_hardie_2007_survivors', "cohort || ' year ' || cast(year as varchar)") }}
