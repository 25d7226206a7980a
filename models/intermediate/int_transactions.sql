{#- Canonical transactions (docs/DESIGN.md contract), from the selected dataset's adapter. -#}
{{ select_contract('transactions') }}
