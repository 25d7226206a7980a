{#- One row per customer: BTYD frequency / recency / T / monetary_value (as
    lifetimes' summary_data_from_transaction_data computes them), activity
    figures, r/f/m scores on configurable scorers, the rfm code and a named
    segment from the segment-map seed. Rules: models/marts/rfm/_rfm__models.yml.
    Empty when the dataset has no transactions at all. -#}
{{- validate_rfm_settings() -}}
{%- set time_unit = rfm_setting('rfm_time_unit') -%}
{%- set multiplier = rfm_setting('rfm_freq_multiplier') -%}
{%- set scheme = rfm_scheme() %}

with customers as (

    select customer_id from {{ ref('int_customers') }}

),

transactions as (

    select customer_id, transaction_id, transacted_at, amount from {{ ref('int_transactions') }}

),

any_transaction as (

    -- a dataset without any transaction (e.g. subscriptions only) gets no rows
    select 1 as found from {{ ref('int_transactions') }} limit 1

),

segment_map as (

    select
        *,
        min(priority) over (partition by segment) as segment_rank
    from {{ ref(rfm_setting('rfm_segment_map_seed')) }}
    where segment_map = {{ sql_literal(rfm_setting('rfm_segment_map')) }}

),

as_of as (

    select
        {{ as_of_date() }} as as_of_date

),

transactions_to_date as (

    -- transactions on or before as_of_date (later ones are unknown at as_of)
    select
        transactions.*,
        {{ rfm_period_start('transactions.transacted_at', time_unit) }} as period_start
    from transactions
    cross join as_of
    where cast(transactions.transacted_at as date) <= as_of.as_of_date

),

customer_periods as (

    -- one row per customer per period; refunds (negative amounts) are netted
    -- into the period they fall in; a period is a purchase period when it has a
    -- purchase (amount >= 0: a free item, 0.00, is a purchase, as in CDNOW)
    select
        customer_id,
        period_start,
        sum(amount) as period_spend,
        -- transaction_id is unique in int_transactions (tested there)
        count(case when amount >= 0 then 1 end) as period_orders,
        min(case when amount >= 0 then transacted_at end) as first_purchase_at,
        max(case when amount >= 0 then transacted_at end) as last_purchase_at
    from transactions_to_date
    group by customer_id, period_start

),

customer_summary as (

    -- one row per customer with a transaction; the BTYD parts only count
    -- purchase periods (null when there is none)
    select
        customer_id,
        cast(sum(period_orders) as integer) as orders,
        sum(period_spend) as total_spend,
        min(first_purchase_at) as first_purchase_at,
        max(last_purchase_at) as last_purchase_at,
        cast(count(case when period_orders > 0 then 1 end) - 1 as integer) as frequency,
        min(case when period_orders > 0 then period_start end) as first_period_start,
        max(case when period_orders > 0 then period_start end) as last_period_start,
        sum(case when period_orders > 0 then period_spend end) as purchase_period_spend,
        {{ rfm_value_at_min('case when period_orders > 0 then period_spend end', 'case when period_orders > 0 then period_start end') }} as first_period_spend
    from customer_periods
    group by customer_id

),

purchasers as (

    -- the scored population: customers with at least one purchase
    select
        customer_id,
        orders,
        cast(total_spend as decimal(18, 2)) as total_spend,
        first_purchase_at,
        last_purchase_at,
        {{ dbt.datediff('cast(last_purchase_at as date)', 'as_of.as_of_date', 'day') }} as days_since_last_purchase,
        frequency,
        {{ rfm_periods_between('first_period_start', 'last_period_start', time_unit, multiplier) }} as recency,
        {{ rfm_periods_between('first_period_start', rfm_period_start('as_of.as_of_date', time_unit), time_unit, multiplier) }} as T,
        -- exact decimal sum of the repeat periods, one division
        case
            when frequency = 0 then cast(0 as double precision)
            else cast(purchase_period_spend - first_period_spend as double precision) / frequency
        end as monetary_value,
        -- activity measures a scheme may score on (customer_monthly_matrix):
        -- months since the last active month (the creator study's recency),
        -- activity (e.g. videos) and revenue over the matrix window
        activity.activity_recency_months,
        activity.total_activity,
        activity.total_revenue
    from customer_summary
    cross join as_of
    left join {{ ref('customer_monthly_matrix') }} as activity using (customer_id)
    where orders > 0

),

score_edges as (

    -- quantile edges of each dimension over the purchasers (one row)
    select
    {{ rfm_edge_columns(scheme) }}
    from purchasers

),

scored as (

    select
        purchasers.*,
        {{ rfm_score_columns(scheme, 'score_edges') }}
    from purchasers
    cross join score_edges

),

score_combinations as (

    select distinct
        r_score,
        f_score,
        m_score,
        {{ rfm_code('r_score', 'f_score', 'm_score') }} as rfm_code
    from scored

),

segment_matches as (

    select
        score_combinations.*,
        segment_map.segment,
        segment_map.segment_rank,
        row_number() over (
            partition by score_combinations.r_score, score_combinations.f_score, score_combinations.m_score
            order by segment_map.priority
        ) as match_order
    from score_combinations
    inner join segment_map
        on {{ rfm_segment_match('segment_map', 'score_combinations') }}

),

combination_segments as (

    select r_score, f_score, m_score, rfm_code, segment, segment_rank
    from segment_matches
    where match_order = 1

),

final as (

    select
        customers.customer_id,
        scored.frequency,
        scored.recency,
        scored.T,
        scored.monetary_value,
        coalesce(scored.orders, 0) as orders,
        coalesce(cast(customer_summary.total_spend as decimal(18, 2)), cast(0 as decimal(18, 2))) as total_spend,
        scored.first_purchase_at,
        scored.last_purchase_at,
        scored.days_since_last_purchase,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ rfm_code('scored.r_score', 'scored.f_score', 'scored.m_score') }} as rfm_code,
        case
            when scored.customer_id is null then {{ sql_literal(rfm_setting('rfm_no_purchase_segment')) }}
            else coalesce(combination_segments.segment, 'Unmapped')
        end as rfm_segment,
        combination_segments.segment_rank as rfm_segment_rank,
        as_of.as_of_date
    from customers
    cross join any_transaction
    cross join as_of
    left join customer_summary on customer_summary.customer_id = customers.customer_id
    left join scored on scored.customer_id = customers.customer_id
    left join combination_segments
        on combination_segments.r_score = scored.r_score
        and combination_segments.f_score = scored.f_score
        and combination_segments.m_score = scored.m_score

)

select * from final
