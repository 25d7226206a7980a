{#- clv_score, the one definition, for every customer with a value history
    under the resolved var clv_source (see int_customer_value_features);
    is_scored marks the scored population of var clv_population (customer_clv,
    and the cut-offs of clv_segment_cutoffs, are over it). clv_score =
    sum(weight x feature) (clv_weights() in macros/clv_settings.sql), rounded to
    var clv_score_scale decimals in exact decimal arithmetic. Var
    clv_score_scaling puts the features on one scale first: rank = each feature
    as its percentile rank in points, 100 x percent_rank() over the scored
    population (ties share a rank); a customer outside it (not scored) gets
    100 x (scored customers below its value) / (scored customers - 1), at most
    100, so its score compares with the same cut-offs. Ranks are exact
    decimals with 6 decimals (rounded half up in integer arithmetic), so the
    score is deterministic. raw = the features' own values.
    sqlfluff (.sqlfluff): no LT02 here, `sqlfluff fix` re-indents the jinja tags of its loops:
-- sqlfluff:exclude_rules:AM04,ST06,ST07,RF04,LT01,LT05,ST09,RF01,RF02,AL03,LT02
-#}
{%- set scaling = setting('clv_score_scaling') -%}
{%- set features_used = clv_score_features() -%}
{{ check_clv_features(ref('int_customer_value_features')) }}

with features as (

    select
        *,
        {%- if setting('clv_population') == 'active' %}
        coalesce(is_active_customer, false) as is_scored
        {%- else %}
        true as is_scored
        {%- endif %}
    from {{ ref('int_customer_value_features') }}
    where has_value_history

),
{%- if scaling == 'rank' %}

{%- for feature in features_used %}

-- scored customers with a smaller value of {{ feature }}, per distinct value: a
-- group-by and a running sum over the distinct values, joined back (two window
-- sorts of every row per feature before; the same counts)
below_{{ feature }} as (

    select
        value_{{ feature }},
        coalesce(sum(scored) over (
            order by value_{{ feature }} rows between unbounded preceding and 1 preceding), 0) as below_{{ feature }}
    from (
        select coalesce({{ feature }}, 0) as value_{{ feature }}, count(*) filter (where is_scored) as scored
        from features
        group by 1
    ) as distinct_values

),
{%- endfor %}

scored_total as (

    select count(*) filter (where is_scored) as scored_customers
    from features

),

counted as (

    select
        features.*,
        scored_total.scored_customers
        {%- for feature in features_used %},
        below_{{ feature }}.below_{{ feature }}
        {%- endfor %}
    from features
    cross join scored_total
    {%- for feature in features_used %}
    inner join below_{{ feature }} on coalesce(features.{{ feature }}, 0) = below_{{ feature }}.value_{{ feature }}
    {%- endfor %}

),

scaled as (

    select
        *
        {%- for feature in features_used %},
        cast(case
            when scored_customers > 1
                then least((200000000 * below_{{ feature }} + (scored_customers - 1)) // (2 * (scored_customers - 1)), 100000000)
            else 0
        end as decimal(18, 0)) * 0.000001                            as rank_{{ feature }}
        {%- endfor %}
    from counted

),
{%- else %}

scaled as (

    select * from features

),
{%- endif %}

final as (

    select
        customer_id,
        clv_source,
        is_scored,
        is_active_customer,
        is_lapsed,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        historical_value as clv,
        total_spend,
        subscription_revenue,
        orders,
        -- exact decimal arithmetic (weights are rendered as decimal literals);
        -- a missing feature value counts as 0
        {{ clv_score_sql('clv_source', 'rank_' if scaling == 'rank' else '') }} as clv_score
    from scaled

)

select * from final
