{#- Marts land in the target schema (main) so BI tools find them unqualified;
    raw seeds, staging and intermediate go to their own schemas (raw, staging,
    intermediate) instead of dbt's default <target>_<custom> prefixing. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
