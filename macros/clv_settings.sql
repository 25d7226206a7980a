{#- Settings of the CLV, churn and customer-feature marts: resolution and
    validation. Every value is read with setting(name) (command line >
    dataset_settings[dataset] > project default); defaults live in
    dbt_project.yml only. -#}


{% macro clv_sources() %}
{{ return(['subscription', 'transactions', 'combined']) }}
{% endmacro %}


{#- The clv_score weights, one mapping per resolved CLV source
    {subscription: {...}, transactions: {...}, combined: {...}}:
      1. setting('clv_score_weights') when set (not null, not empty): one
         override used whatever the source (the historical single setting);
      2. else setting('clv_score_weights_by_source')[source]; a source the
         setting does not name keeps its project default (dbt_project.yml). -#}
{% macro clv_weights() %}
  {#- a malformed value is ignored here (models still parse) and reported by
      validate_clv_settings() at on-run-start -#}
  {%- set override = setting('clv_score_weights') -%}
  {%- set by_source = setting('clv_score_weights_by_source') -%}
  {%- set by_source = by_source if by_source is mapping else {} -%}
  {%- set resolved = {} -%}
  {%- for source in clv_sources() -%}
    {%- if override is mapping and override | length > 0 -%}
      {%- do resolved.update({source: override}) -%}
    {%- else -%}
      {%- set project_default = setting_default('clv_score_weights_by_source') or {} -%}
      {%- do resolved.update({source: by_source.get(source) or project_default.get(source) or {}}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(resolved) }}
{% endmacro %}


{#- SQL of one weighted score: sum(weight * coalesce(<prefix><feature>, 0))
    rounded to `scale` decimals, in exact decimal arithmetic (weights render as
    decimal literals), typed decimal(18, scale). -#}
{% macro clv_weighted_sum(weights, scale, prefix='') -%}
cast(round(
    {%- for feature, weight in weights.items() %}
    {{ weight }} * coalesce({{ prefix }}{{ feature }}, 0){{ ' +' if not loop.last }}
    {%- endfor %}
, {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}


{#- SQL of clv_score over a relation with the columns of
    int_customer_value_features (source_column holds the resolved CLV source);
    with prefix, each feature is read from the column <prefix><feature> (the
    scaled features of customer_clv_score). -#}
{% macro clv_score_sql(source_column='clv_source', prefix='') -%}
  {%- set weights = clv_weights() -%}
  {%- set scale = setting('clv_score_scale') -%}
  {%- set distinct_sets = [] -%}
  {%- for source in clv_sources() -%}
    {%- if weights[source] not in distinct_sets -%}{%- do distinct_sets.append(weights[source]) -%}{%- endif -%}
  {%- endfor -%}
  {%- if distinct_sets | length == 1 -%}
{{ clv_weighted_sum(distinct_sets[0], scale, prefix) }}
  {%- else -%}
case {{ source_column }}
    {%- for source in clv_sources() %}
    when '{{ source }}' then {{ clv_weighted_sum(weights[source], scale, prefix) }}
    {%- endfor %}
end
  {%- endif -%}
{%- endmacro %}


{#- Every feature some source's clv_score weights name, in first-seen order. -#}
{% macro clv_score_features() %}
  {%- set weights = clv_weights() -%}
  {%- set features = [] -%}
  {%- for source in clv_sources() -%}
    {%- for feature in weights[source] -%}
      {%- if feature not in features -%}{%- do features.append(feature) -%}{%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(features) }}
{% endmacro %}


{#- The CLV segment rule, the one definition: var clv_segments checked top-down
    (the first rule whose comparison holds wins), else
    var clv_segment_floor_label. The cut-off values come from the one model that
    computes them, clv_segment_cutoffs, pivoted to one row by
    clv_segment_cutoff_row(ref('clv_segment_cutoffs')); cross join that row as
    `cutoffs` and call clv_segment_case(score, 'cutoffs') (output 'label' or 'rank'). -#}
{% macro clv_segment_cutoff_row(cutoffs_relation) -%}
  {%- set rules = setting('clv_segments') -%}
select
    {%- for rule in rules %}
    max(case when clv_segment_rank = {{ loop.index }} then clv_score_cutoff end) as cutoff_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ cutoffs_relation }}
{%- endmacro %}

{% macro clv_segment_case(score, cutoffs_alias='cutoffs', output='label') -%}
  {%- set rules = setting('clv_segments') -%}
case
    {%- for rule in rules %}
    when {{ score }} {{ rule.get('op', '>=') }} {{ cutoffs_alias }}.cutoff_{{ loop.index }} then {{ sql_literal(rule.label) if output == 'label' else loop.index }}
    {%- endfor %}
    else {{ sql_literal(setting('clv_segment_floor_label')) if output == 'label' else rules | length + 1 }}
end
{%- endmacro %}


{#- Stop with a clear message when a clv_score feature is not a column of
    `relation`. Skipped when the columns cannot be read (e.g. inside a dbt unit
    test, where the relation is a fixture): the SQL then fails on the column. -#}
{% macro check_clv_features(relation) %}
  {%- if execute -%}
    {%- set available = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- if available | length > 0 -%}
      {%- set weights = clv_weights() -%}
      {%- for source in clv_sources() -%}
        {%- for feature in weights[source] -%}
          {%- if feature not in available -%}
            {%- set name = 'clv_score_weights' if setting('clv_score_weights') else 'clv_score_weights_by_source' -%}
            {{ settings_error(name, "feature '" ~ feature ~ "' (source " ~ source ~ ") is not a column of int_customer_value_features",
                "use one of " ~ (available | reject('in', ['customer_id', 'plan_level', 'plan_type', 'clv_source']) | join(', '))) }}
          {%- endif -%}
        {%- endfor -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}


{#- Which event_name counts as what for the engagement features: the project
    default of feature_event_names (the demo online-learning names), with the
    keys setting('feature_event_names') gives replaced, e.g. {video: play}. -#}
{% macro feature_event_names() %}
  {%- set names = {} -%}
  {%- do names.update(setting_default('feature_event_names') or {}) -%}
  {%- set configured = setting('feature_event_names') -%}
  {%- do names.update(configured if configured is mapping else {}) -%}
  {{ return(names) }}
{% endmacro %}


{#- Customer attributes (int_customers columns) the segment profiles and
    churn_by_segment break down by. -#}
{% macro profile_dimensions() %}
  {%- set dims = setting('profile_dimensions') -%}
  {#- a malformed value is reported by validate_clv_settings() at on-run-start -#}
  {{ return(dims if (dims is iterable and dims is not string and dims is not mapping) else []) }}
{% endmacro %}


{#- on-run-start validation of the vars above (called from validate_settings). -#}
{% macro validate_clv_settings() %}
  {%- set source = setting('clv_source') -%}
  {%- if source not in ['auto'] + clv_sources() -%}
    {{ settings_error('clv_source', "'" ~ source ~ "' is not allowed",
        "use auto (subscriptions only: subscription; transactions only: transactions; both: combined), subscription, transactions or combined") }}
  {%- endif -%}

  {%- set days = setting('churn_inactivity_days') -%}
  {%- if days is not number or days is boolean or days != (days | int) or days < 1 -%}
    {{ settings_error('churn_inactivity_days', "'" ~ days ~ "' is not a positive whole number of days",
        "e.g. 90: a buyer with no purchase in the last 90 days before as_of_date is lapsed") }}
  {%- endif -%}

  {%- set override = setting('clv_score_weights') -%}
  {%- if override is not none -%}
    {%- if override is not mapping -%}
      {{ settings_error('clv_score_weights', "expected a mapping feature: weight, or null", "e.g. {monthly_amount: 0.4, tenure_months: 0.3}, or null to use clv_score_weights_by_source") }}
    {%- endif -%}
    {{ validate_clv_weight_set('clv_score_weights', override) }}
  {%- endif -%}

  {%- set by_source = setting('clv_score_weights_by_source') -%}
  {%- if by_source is not none -%}
    {%- if by_source is not mapping -%}
      {{ settings_error('clv_score_weights_by_source', "expected a mapping source: {feature: weight}", "use keys " ~ clv_sources() | join(', ')) }}
    {%- endif -%}
    {%- for key, weights in by_source.items() -%}
      {%- if key not in clv_sources() -%}
        {{ settings_error('clv_score_weights_by_source', "'" ~ key ~ "' is not a CLV source", "use keys " ~ clv_sources() | join(', ')) }}
      {%- endif -%}
      {%- if weights is not mapping or (weights | length) == 0 -%}
        {{ settings_error('clv_score_weights_by_source', "the weights of '" ~ key ~ "' are not a non-empty mapping feature: weight", "e.g. " ~ key ~ ": {total_spend: 0.5, orders: 0.5}") }}
      {%- endif -%}
      {{ validate_clv_weight_set('clv_score_weights_by_source', weights) }}
    {%- endfor -%}
  {%- endif -%}

  {%- set events = setting('feature_event_names') -%}
  {%- if events is not none -%}
    {%- if events is not mapping -%}
      {{ settings_error('feature_event_names', "expected a mapping feature: event_name", "e.g. {video: video_watched, session: session_started}") }}
    {%- endif -%}
    {%- set known = ['session', 'video', 'enrolment', 'completion', 'quiz', 'nps', 'support'] -%}
    {%- for key, name in events.items() -%}
      {%- if key not in known -%}
        {{ settings_error('feature_event_names', "'" ~ key ~ "' is not a feature event", "use keys " ~ known | join(', ')) }}
      {%- endif -%}
      {%- if name is not string or (name | trim) == '' -%}
        {{ settings_error('feature_event_names', "the event name of '" ~ key ~ "' is empty or not text", "give the event_name as it appears in the events input") }}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}

  {%- set dims = setting('profile_dimensions') -%}
  {%- set allowed = contract()['customers'] | map(attribute=0) | reject('equalto', 'customer_id') | reject('equalto', 'signed_up_at') | list -%}
  {%- if dims is string or dims is mapping or dims is not iterable -%}
    {{ settings_error('profile_dimensions', "expected a list of customer attributes", "e.g. [occupation, age_group, referral_channel]") }}
  {%- endif -%}
  {%- for dim in dims -%}
    {%- if dim not in allowed -%}
      {{ settings_error('profile_dimensions', "'" ~ dim ~ "' is not a customer attribute", "use columns of int_customers: " ~ allowed | join(', ')) }}
    {%- endif -%}
  {%- endfor -%}
  {%- if (dims | unique | list | length) != (dims | length) -%}
    {{ settings_error('profile_dimensions', "a dimension is listed twice", "list each attribute once") }}
  {%- endif -%}
{% endmacro %}


{% macro validate_clv_weight_set(name, weights) %}
  {%- for feature, weight in weights.items() -%}
    {%- if weight is not number or weight is boolean -%}
      {{ settings_error(name, "the weight of '" ~ feature ~ "' is '" ~ weight ~ "', not a number", "give every feature a numeric weight") }}
    {%- endif -%}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]*$', feature) -%}
      {{ settings_error(name, "'" ~ feature ~ "' is not a column name", "use column names of int_customer_value_features") }}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}
