{#- Canonical events (docs/DESIGN.md contract), from the selected dataset's adapter. -#}
{{ select_contract('events') }}
