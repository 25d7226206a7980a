{#- The RFM engine (models/marts/rfm): BTYD periods, configurable scorers, the
    segment-map match, and the validation of the rfm_* settings.

    A scoring scheme is a mapping with one entry per dimension r, f and m:
      measure:    SQL expression over the scored relation's columns
      method:     quantile (continuous percentile edges over the scored rows)
                  | fixed (edges listed in `edges`)
      bins:       quantile only: number of scores, 2..9 (default var rfm_bins)
      edges:      fixed only: increasing numbers; len(edges) + 1 scores
      better:     higher | lower - which measure values are better
      best_score: highest (best = N) | lowest (best = 1)
    A value falls in bin b = the first edge it is <= (1-based), or the last bin
    when it is above every edge: ties always share a bin, nothing like NTILE.
    The score is b when (better, best_score) is (higher, highest) or
    (lower, lowest), else N + 1 - b.
    Defaults: the project default of rfm_scoring in dbt_project.yml (r on
    days_since_last_purchase, lower is better; f on orders; m on total_spend),
    with method quantile, rfm_bins bins and best_score highest; a scheme given
    per dataset or on the command line replaces the keys it names.
    Example, the Classplus creator study (4 levels, 1 = best):
      r: {measure: months_since_last_active, method: fixed, edges: [2, 4, 7], better: lower, best_score: lowest}
      f: {measure: total_videos, method: quantile, bins: 4, better: higher, best_score: lowest}
      m: {measure: total_gmv, method: quantile, bins: 4, better: higher, best_score: lowest}
    with the exact-code map rfm_segment_map = classplus_creators (seeds/rfm_segment_map.csv).

    Reuse in another model (what customer_rfm does), over a CTE `measures` with
    one row per scored entity and the measure columns:
      {%- set scheme = rfm_scheme(overrides=setting('my_scoring')) %}
      score_edges as (select {{ rfm_edge_columns(scheme) }} from measures),
      scored as (select measures.*, {{ rfm_score_columns(scheme) }}
                 from measures cross join score_edges),
      then the distinct (r, f, m) combinations joined to the map rows on
      {{ rfm_segment_match('segment_map', 'score_combinations') }}, first row by
      priority (row_number), joined back on the three scores. -#}


{#- The resolved, validated scoring scheme: {r: cfg, f: cfg, m: cfg}, each cfg
    complete and with n_scores set. overrides: a scheme mapping (default: the
    setting rfm_scoring); var_name: the setting named in error messages. -#}
{% macro rfm_scheme(overrides=none, var_name='rfm_scoring', default_bins=none) %}
  {%- set overrides = setting(var_name) if overrides is none else overrides -%}
  {%- set overrides = overrides or {} -%}
  {%- set default_bins = setting('rfm_bins') if default_bins is none else default_bins -%}
  {%- if overrides is not mapping -%}
    {{ settings_error(var_name, "expected a mapping with entries r, f and/or m", "e.g. {r: {measure: days_since_last_purchase, better: lower}}") }}
  {%- endif -%}
  {%- for dim in overrides -%}
    {%- if dim not in ['r', 'f', 'm'] -%}
      {{ settings_error(var_name, "'" ~ dim ~ "' is not a dimension", "use the keys r, f and m") }}
    {%- endif -%}
    {%- if overrides[dim] is not mapping -%}
      {{ settings_error(var_name, "the entry of '" ~ dim ~ "' is not a mapping", "write it as {measure: ..., method: quantile, bins: 5, better: higher, best_score: highest}") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set defaults = setting_default('rfm_scoring') or {} -%}
  {%- set scheme = {} -%}
  {%- for dim in ['r', 'f', 'm'] -%}
    {%- set cfg = {'method': 'quantile', 'bins': default_bins, 'edges': none, 'best_score': 'highest'} -%}
    {%- do cfg.update(defaults.get(dim) or {}) -%}
    {%- do cfg.update(overrides.get(dim, {})) -%}
    {%- set where = var_name ~ "." ~ dim -%}
    {%- for key in cfg -%}
      {%- if key not in ['measure', 'method', 'bins', 'edges', 'better', 'best_score'] -%}
        {{ settings_error(where, "unknown key '" ~ key ~ "'", "use measure, method, bins, edges, better, best_score") }}
      {%- endif -%}
    {%- endfor -%}
    {%- if cfg.measure is not string or (cfg.measure | trim) == '' -%}
      {{ settings_error(where, "measure is not a SQL expression", "name a column of the scored relation, e.g. days_since_last_purchase") }}
    {%- endif -%}
    {%- if cfg.better not in ['higher', 'lower'] -%}
      {{ settings_error(where, "better is '" ~ cfg.better ~ "'", "use higher (higher values are better) or lower") }}
    {%- endif -%}
    {%- if cfg.best_score not in ['highest', 'lowest'] -%}
      {{ settings_error(where, "best_score is '" ~ cfg.best_score ~ "'", "use highest (best score = number of bins) or lowest (best score = 1)") }}
    {%- endif -%}
    {%- if cfg.method == 'quantile' -%}
      {%- if cfg.bins is not number or cfg.bins is boolean or cfg.bins != (cfg.bins | int) or cfg.bins < 2 or cfg.bins > 9 -%}
        {{ settings_error(where if 'bins' in overrides.get(dim, {}) else 'rfm_bins', "bins is '" ~ cfg.bins ~ "', not an integer from 2 to 9", "use e.g. 5 (scores are single digits so the rfm code stays readable)") }}
      {%- endif -%}
      {%- do cfg.update({'bins': cfg.bins | int, 'n_scores': cfg.bins | int}) -%}
    {%- elif cfg.method == 'fixed' -%}
      {%- set edges = cfg.edges -%}
      {%- if edges is string or edges is mapping or edges is not iterable or (edges | length) == 0 or (edges | length) > 8 -%}
        {{ settings_error(where, "a fixed scorer needs edges: a list of 1 to 8 increasing numbers", "e.g. edges: [2, 4, 7]") }}
      {%- endif -%}
      {%- set ns = namespace(previous=none) -%}
      {%- for e in edges -%}
        {%- if e is not number or e is boolean -%}
          {{ settings_error(where, "edge '" ~ e ~ "' is not a number", "list numbers, e.g. [2, 4, 7]") }}
        {%- endif -%}
        {%- if ns.previous is not none and e <= ns.previous -%}
          {{ settings_error(where, "edges are not strictly increasing", "list them from low to high, e.g. [2, 4, 7]") }}
        {%- endif -%}
        {%- set ns.previous = e -%}
      {%- endfor -%}
      {%- do cfg.update({'n_scores': (edges | length) + 1}) -%}
    {%- else -%}
      {{ settings_error(where, "method is '" ~ cfg.method ~ "'", "use quantile or fixed") }}
    {%- endif -%}
    {%- do scheme.update({dim: cfg}) -%}
  {%- endfor -%}
  {{ return(scheme) }}
{% endmacro %}


{#- The period a timestamp falls in, as a date: the day, or the calendar week
    starting on Monday (pandas/lifetimes freq 'W' = 'W-SUN', ISO weeks). -#}
{% macro rfm_period_start(column, time_unit) -%}
  {%- if time_unit == 'week' -%}
    cast({{ dbt.date_trunc('week', column) }} as date)
  {%- else -%}
    cast({{ column }} as date)
  {%- endif -%}
{%- endmacro %}


{#- The distance between two period starts in BTYD time units: whole periods
    divided by the multiplier (lifetimes freq_multiplier), as a double. Same
    operation order as lifetimes: (delta / one period) / multiplier. -#}
{% macro rfm_periods_between(start_period, end_period, time_unit, multiplier) -%}
  (cast({{ dbt.datediff(start_period, end_period, 'day') }} as double precision)
   {%- if time_unit == 'week' %} / 7{% endif %}
   {%- if multiplier != 1 %} / {{ multiplier }}{% endif %})
{%- endmacro %}


{#- Aggregate: `value` on the row with the smallest `order_by` (rows where
    order_by is null are skipped; order_by must be unique within the group). -#}
{% macro rfm_value_at_min(value, order_by) -%}
  {{ return(adapter.dispatch('rfm_value_at_min', 'segment_warehouse')(value, order_by)) }}
{%- endmacro %}
{% macro default__rfm_value_at_min(value, order_by) -%}
  (array_agg({{ value }} order by {{ order_by }}) filter (where {{ order_by }} is not null))[1]
{%- endmacro %}
{% macro duckdb__rfm_value_at_min(value, order_by) -%}
  arg_min({{ value }}, {{ order_by }})
{%- endmacro %}


{#- Select-list columns with every quantile edge of a scheme, computed over the
    relation in the FROM clause: <dim>_edge_<k> = percentile_cont(k / bins).
    Always starts with scored_rows so the list is never empty. -#}
{% macro rfm_edge_columns(scheme) -%}
    count(*) as scored_rows
  {%- for dim in ['r', 'f', 'm'] -%}
    {%- set cfg = scheme[dim] -%}
    {%- if cfg.method == 'quantile' -%}
      {%- for k in range(1, cfg.bins) %},
    {{ percentile_cont('(' ~ cfg.measure ~ ')', k / cfg.bins) }} as {{ dim }}_edge_{{ k }}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}


{#- The score of one dimension: a CASE over the edges (columns of edges_alias
    for quantile, literals for fixed). Null measure -> null score. -#}
{% macro rfm_score_case(dim, cfg, edges_alias='score_edges') -%}
  {%- set n = cfg.n_scores -%}
  {%- set ascending = (cfg.better == 'higher') == (cfg.best_score == 'highest') -%}
  case
        when ({{ cfg.measure }}) is null then null
    {%- for k in range(1, n) %}
    {%- set edge = (edges_alias ~ '.' ~ dim ~ '_edge_' ~ k) if cfg.method == 'quantile' else cfg.edges[k - 1] %}
        when cast(({{ cfg.measure }}) as double precision) <= {{ edge }} then {{ k if ascending else n + 1 - k }}
    {%- endfor %}
        else {{ n if ascending else 1 }}
    end
{%- endmacro %}


{#- r_score, f_score, m_score and rfm_code select-list columns. -#}
{% macro rfm_score_columns(scheme, edges_alias='score_edges') -%}
        {{ rfm_score_case('r', scheme.r, edges_alias) }} as r_score,
        {{ rfm_score_case('f', scheme.f, edges_alias) }} as f_score,
        {{ rfm_score_case('m', scheme.m, edges_alias) }} as m_score
{%- endmacro %}


{% macro rfm_code(r, f, m) -%}
  (cast({{ r }} as {{ dbt.type_string() }}) || cast({{ f }} as {{ dbt.type_string() }}) || cast({{ m }} as {{ dbt.type_string() }}))
{%- endmacro %}


{#- Does a segment-map row (alias map_alias) match a score combination (alias
    scores_alias with r_score, f_score, m_score, rfm_code)? Every non-null
    condition of the row must hold: code_pattern (SQL LIKE: an exact code such
    as 111, or with _ for any one digit), r/f/m score ranges, and the fm range
    on (f_score + m_score) / 2. A row with no condition matches everything
    (a catch-all, e.g. Others). -#}
{% macro rfm_segment_match(map_alias='segment_map', scores_alias='score_combinations') -%}
  {%- set m = map_alias -%}
  {%- set s = scores_alias -%}
  ({{ m }}.code_pattern is null or {{ s }}.rfm_code like {{ m }}.code_pattern)
        {%- for dim in ['r', 'f', 'm'] %}
        and ({{ m }}.{{ dim }}_min is null or {{ s }}.{{ dim }}_score >= {{ m }}.{{ dim }}_min)
        and ({{ m }}.{{ dim }}_max is null or {{ s }}.{{ dim }}_score <= {{ m }}.{{ dim }}_max)
        {%- endfor %}
        and ({{ m }}.fm_min is null or ({{ s }}.f_score + {{ s }}.m_score) / 2.0 >= {{ m }}.fm_min)
        and ({{ m }}.fm_max is null or ({{ s }}.f_score + {{ s }}.m_score) / 2.0 <= {{ m }}.fm_max)
{%- endmacro %}


{#- on-run-start validation of the rfm_* settings (called from
    validate_settings()); renders nothing when they are valid. -#}
{% macro validate_rfm_settings() %}
  {%- set unit = setting('rfm_time_unit') -%}
  {%- if unit not in ['day', 'week'] -%}
    {{ settings_error('rfm_time_unit', "'" ~ unit ~ "' is not a time unit", "use day or week (calendar weeks, Monday to Sunday); for the CDNOW convention (daily purchases, recency and T in days / 7) use day with rfm_freq_multiplier: 7") }}
  {%- endif -%}
  {%- set multiplier = setting('rfm_freq_multiplier') -%}
  {%- if multiplier is not number or multiplier is boolean or multiplier <= 0 -%}
    {{ settings_error('rfm_freq_multiplier', "'" ~ multiplier ~ "' is not a positive number", "recency and T are divided by it: 1 (default), or 7 with rfm_time_unit day for weeks of 7 days") }}
  {%- endif -%}
  {%- set scheme = rfm_scheme() -%}
  {%- set backtest_scheme = rfm_scheme(overrides=setting('backtest_rfm_scoring'), var_name='backtest_rfm_scoring') -%}
  {%- for name in ['rfm_segment_map', 'rfm_segment_map_seed', 'rfm_no_purchase_segment'] -%}
    {%- set value = setting(name) -%}
    {%- if value is not string or (value | trim) == '' -%}
      {{ settings_error(name, "'" ~ value ~ "' is not a name", "see dbt_project.yml for the default") }}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}


{#- The BTYD summary as CTEs, shared by customer_rfm (one as-of date),
    backtest_cutoff_features (one per cutoff) and the clv calibration models, so
    all compute frequency / recency / T / monetary_value the same way.
      transactions:   relation with customer_id, transacted_at, amount
      as_of_relation: relation with the key columns and as_of_date
      keys:           key columns of as_of_relation ([] for a single date)
    Known at an as-of date: the transactions before as_of_end(as_of_date)
    (happened_by_as_of), so the period that contains the as-of day (a day, or
    a calendar week) counts only its transactions up to the end of that day.
    Set-based, one scan of the transactions however many as-of dates: each
    (customer, period) is aggregated once (a week that contains an as-of day is
    split at every as-of end inside it: rfm_period_parts); the complete periods are rolled up into the
    segments between consecutive as-of period starts (rfm_period_segments); an
    as-of date's summary is the segments before its period plus the parts of its
    own period up to its as-of end. Counts and decimal sums add, min/max
    combine, so this equals aggregating the rows known at each as-of date.
    Emits rfm_customer_periods (one row per customer and period of the
    transactions before the latest as-of end; refunds netted into their period;
    a period with a purchase, period_orders > 0, is a purchase period; with one
    as-of date, its periods), rfm_customer_summary (one row per key and
    customer with a transaction up to its as_of_date) and rfm_purchasers (those
    with a purchase, with the BTYD values). -#}
{% macro rfm_btyd_ctes(transactions, as_of_relation, keys, time_unit, multiplier) %}
{%- set k = (keys | join(', ') ~ ', ') if keys else '' -%}
rfm_as_of as (

    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        as_of_date,
        {{ rfm_period_start('as_of_date', time_unit) }} as as_of_period_start,
        {{ as_of_end('as_of_date') }} as as_of_end
    from {{ as_of_relation }}

),

{%- if time_unit == 'week' %}
-- a week can contain an as-of day before its end: it is split at every as-of
-- end inside it. The days of the weeks that contain an as-of day, each with the
-- first as-of end after it (days after every as-of end have no row)
rfm_split_days as (

    select days.day, min(ends.as_of_end) as split_end
    from (
        select distinct cast(periods.as_of_period_start + cast(offsets.i as integer) as date) as day
        from rfm_as_of as periods
        cross join range(0, 7) as offsets(i)
    ) as days
    inner join rfm_as_of as ends on days.day < ends.as_of_end
    group by days.day

),

-- transactions per (customer, period, part); the scalar bound is pushed into the scan
rfm_period_parts as (

    select
        transactions.customer_id,
        {{ rfm_period_start('transactions.transacted_at', time_unit) }} as period_start,
        split.split_end,
        sum(transactions.amount) as period_spend,
        -- transaction_id is unique in int_transactions (tested there)
        count(case when {{ is_purchase('transactions.amount') }} then 1 end) as period_orders,
        min(case when {{ is_purchase('transactions.amount') }} then transactions.transacted_at end) as first_purchase_at,
        max(case when {{ is_purchase('transactions.amount') }} then transactions.transacted_at end) as last_purchase_at
    from {{ transactions }} as transactions
    left join rfm_split_days as split on split.day = cast(transactions.transacted_at as date)
    -- transactions after the latest as-of date are unknown at every as-of date
    where {{ happened_by_as_of('transactions.transacted_at', '(select max(as_of_end) from rfm_as_of)') }}
    group by transactions.customer_id, period_start, split.split_end

),

rfm_customer_periods as (

    select
        customer_id,
        period_start,
        sum(period_spend) as period_spend,
        cast(sum(period_orders) as bigint) as period_orders,
        min(first_purchase_at) as first_purchase_at,
        max(last_purchase_at) as last_purchase_at
    from rfm_period_parts
    group by customer_id, period_start

),
{%- else %}
-- a day period ends with its as-of end: no period is split, its parts are itself
rfm_customer_periods as (

    select
        transactions.customer_id,
        {{ rfm_period_start('transactions.transacted_at', time_unit) }} as period_start,
        sum(transactions.amount) as period_spend,
        -- transaction_id is unique in int_transactions (tested there)
        count(case when {{ is_purchase('transactions.amount') }} then 1 end) as period_orders,
        min(case when {{ is_purchase('transactions.amount') }} then transactions.transacted_at end) as first_purchase_at,
        max(case when {{ is_purchase('transactions.amount') }} then transactions.transacted_at end) as last_purchase_at
    from {{ transactions }} as transactions
    -- transactions after the latest as-of date are unknown at every as-of date
    where {{ happened_by_as_of('transactions.transacted_at', '(select max(as_of_end) from rfm_as_of)') }}
    group by transactions.customer_id, period_start

),
{%- endif %}

-- the segment of each period start from the first as-of period start to the
-- last: the first as-of period start after it (a period before the first one
-- is in the first segment; periods from the last one on are in none)
rfm_segment_calendar as (

    select days.day, min(bounds.as_of_period_start) as next_period_start
    from (
        select cast(d as date) as day
        from range(
            (select cast(min(as_of_period_start) as timestamp) from rfm_as_of),
            (select cast(max(as_of_period_start) as timestamp) from rfm_as_of),
            interval 1 day) as r(d) -- noqa: AL05
    ) as days
    inner join rfm_as_of as bounds on days.day < bounds.as_of_period_start
    group by days.day

),

-- the complete periods per (segment, customer)
rfm_period_segments as (

    select
        coalesce(calendar.next_period_start, (select min(as_of_period_start) from rfm_as_of)) as segment_end,
        periods.customer_id,
        sum(periods.period_orders) as orders,
        sum(periods.period_spend) as total_spend,
        min(periods.first_purchase_at) as first_purchase_at,
        max(periods.last_purchase_at) as last_purchase_at,
        count(case when periods.period_orders > 0 then 1 end) as purchase_periods,
        min(case when periods.period_orders > 0 then periods.period_start end) as first_period_start,
        max(case when periods.period_orders > 0 then periods.period_start end) as last_period_start,
        sum(case when periods.period_orders > 0 then periods.period_spend end) as purchase_period_spend,
        {{ rfm_value_at_min('case when periods.period_orders > 0 then periods.period_spend end', 'case when periods.period_orders > 0 then periods.period_start end') }} as first_period_spend
    from rfm_customer_periods as periods
    left join rfm_segment_calendar as calendar on calendar.day = periods.period_start
    where periods.period_start < (select max(as_of_period_start) from rfm_as_of)
    group by segment_end, periods.customer_id

),

-- the as-of period itself, its parts up to the as-of end, per key and customer
rfm_as_of_periods as (

    select
        {%- for key in keys %}
        as_of.{{ key }},
        {%- endfor %}
        as_of.as_of_date,
        parts.customer_id,
        sum(parts.period_orders) as orders,
        sum(parts.period_spend) as total_spend,
        min(parts.first_purchase_at) as first_purchase_at,
        max(parts.last_purchase_at) as last_purchase_at,
        case when sum(parts.period_orders) > 0 then 1 else 0 end as purchase_periods,
        case when sum(parts.period_orders) > 0 then any_value(as_of.as_of_period_start) end as period_start,
        case when sum(parts.period_orders) > 0 then sum(parts.period_spend) end as purchase_period_spend
    {%- if time_unit == 'week' %}
    from rfm_period_parts as parts
    inner join rfm_as_of as as_of
        on parts.period_start = as_of.as_of_period_start
    where parts.split_end <= as_of.as_of_end
    {%- else %}
    from rfm_customer_periods as parts
    inner join rfm_as_of as as_of
        on parts.period_start = as_of.as_of_period_start
    {%- endif %}
    group by {% for key in keys %}as_of.{{ key }}, {% endfor %}as_of.as_of_date, parts.customer_id

),

-- what each key knows: the segments before its as-of period, and that period
rfm_customer_pieces as (

    select
        {%- for key in keys %}
        as_of.{{ key }},
        {%- endfor %}
        as_of.as_of_date,
        segments.customer_id,
        segments.orders,
        segments.total_spend,
        segments.first_purchase_at,
        segments.last_purchase_at,
        segments.purchase_periods,
        segments.first_period_start,
        segments.last_period_start,
        segments.purchase_period_spend,
        segments.first_period_spend
    from rfm_period_segments as segments
    inner join rfm_as_of as as_of on segments.segment_end <= as_of.as_of_period_start
    union all
    select
        {{ k }}as_of_date,
        customer_id,
        orders,
        total_spend,
        first_purchase_at,
        last_purchase_at,
        purchase_periods,
        period_start,
        period_start,
        purchase_period_spend,
        purchase_period_spend
    from rfm_as_of_periods

),

rfm_customer_summary as (

    -- the BTYD parts only count purchase periods (null when there is none)
    select
        {{ k }}as_of_date,
        customer_id,
        cast(sum(orders) as integer) as orders,
        sum(total_spend) as total_spend,
        min(first_purchase_at) as first_purchase_at,
        max(last_purchase_at) as last_purchase_at,
        cast(sum(purchase_periods) - 1 as integer) as frequency,
        min(first_period_start) as first_period_start,
        max(last_period_start) as last_period_start,
        sum(purchase_period_spend) as purchase_period_spend,
        {{ rfm_value_at_min('first_period_spend', 'first_period_start') }} as first_period_spend
    from rfm_customer_pieces
    group by {{ k }}as_of_date, customer_id

),

rfm_purchasers as (

    -- customers with at least one purchase, with their BTYD values
    select
        {{ k }}customer_id,
        orders,
        cast(total_spend as decimal(18, 2)) as total_spend,
        first_purchase_at,
        last_purchase_at,
        {{ dbt.datediff('cast(last_purchase_at as date)', 'as_of_date', 'day') }} as days_since_last_purchase,
        frequency,
        {{ rfm_periods_between('first_period_start', 'last_period_start', time_unit, multiplier) }} as recency,
        {{ rfm_periods_between('first_period_start', rfm_period_start('as_of_date', time_unit), time_unit, multiplier) }} as T,
        -- exact decimal sum of the repeat periods, one division
        case
            when frequency = 0 then cast(0 as double precision)
            else cast(purchase_period_spend - first_period_spend as double precision) / frequency
        end as monetary_value
    from rfm_customer_summary
    where orders > 0

)
{% endmacro %}


{#- RFM scoring and the segment-map match, the one definition shared by
    customer_rfm (one as-of date) and backtest_cutoff_features (one per cutoff).
      purchasers: relation (CTE name) of the scored population with the
                  scheme's measures and the key columns
      keys:       key columns the quantile edges are computed within ([] for
                  one population)
      scheme:     rfm_scheme(...)
      segment_map: the segment_map name in the setting('rfm_segment_map_seed') seed
    Emits rfm_segment_map, score_edges (quantile edges per key), scored
    (purchasers with r_score, f_score, m_score) and combination_segments (one
    row per score combination: rfm_code, the first matching segment by
    priority, and its segment_rank); unmatched combinations have no row (the
    caller labels them 'Unmapped'). -#}
{% macro rfm_segment_ctes(purchasers, keys, scheme, segment_map) %}
rfm_segment_map as (

    select *, min(priority) over (partition by segment) as segment_rank
    from {{ ref(setting('rfm_segment_map_seed')) }}
    where segment_map = {{ sql_literal(segment_map) }}

),

score_edges as (

    -- quantile edges of each dimension over the purchasers (per key)
    select {% for key in keys %}{{ key }}, {% endfor %}{{ rfm_edge_columns(scheme) }}
    from {{ purchasers }}
    {%- if keys %}
    group by {{ keys | join(', ') }}
    {%- endif %}

),

scored as (

    select purchasers.*, {{ rfm_score_columns(scheme, 'score_edges') }}
    from {{ purchasers }} as purchasers
    {%- if keys %}
    inner join score_edges using ({{ keys | join(', ') }})
    {%- else %}
    cross join score_edges
    {%- endif %}

),

score_combinations as (

    select distinct r_score, f_score, m_score, {{ rfm_code('r_score', 'f_score', 'm_score') }} as rfm_code
    from scored

),

combination_segments as (

    select r_score, f_score, m_score, rfm_code, segment, segment_rank
    from (
        select
            score_combinations.*,
            rfm_segment_map.segment,
            rfm_segment_map.segment_rank,
            row_number() over (
                partition by score_combinations.r_score, score_combinations.f_score, score_combinations.m_score
                order by rfm_segment_map.priority
            ) as match_order
        from score_combinations
        inner join rfm_segment_map on {{ rfm_segment_match('rfm_segment_map', 'score_combinations') }}
    ) as matches
    where match_order = 1

)
{% endmacro %}
