{#- The feature table the clustering step reads: customer_features, or the
    monthly activity matrix when var cluster_input is 'customer_monthly_matrix'
    (the creator study). One row per customer. -#}
{%- set source = setting('cluster_input') -%}
{%- if source not in ['customer_features', 'customer_monthly_matrix'] -%}
  {{ settings_error('cluster_input', "'" ~ source ~ "' is not a feature table", "use customer_features or customer_monthly_matrix") }}
{%- endif %}

with features as (

    {%- if source == 'customer_monthly_matrix' %}
    select * from {{ ref('customer_monthly_matrix') }}
    {%- else %}
    select * from {{ ref('customer_features') }}
    {%- endif %}

)

select * from features
