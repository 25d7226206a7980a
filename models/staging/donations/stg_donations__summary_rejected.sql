{{ config(enabled=dataset_adapter_enabled()) }}
{#- Summary rows staging could not use; unioned into rejected_rows. -#}
{{ quarantined_rows('base_donations__summary', 'donations_summary', "'frequency ' || coalesce(cast(frequency as varchar), '?') || ', recency ' || coalesce(cast(recency as varchar), '?')") }}
