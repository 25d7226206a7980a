{{ config(enabled=dataset_adapter_enabled()) }}
{#- One subscription per customer, expanded deterministically from the survivor
    counts (seeds/fader_hardie_2007/README.md): year 0 starts 2000-01-01; of a
    cohort, survivors(t - 1) - survivors(t) subscriptions are cancelled at the end
    of year t (the t-th anniversary), the survivors of the last year stay open.
    Customers are numbered within their cohort by lifetime, shortest first. -#}

with survivors as (

    select * from {{ ref('stg_fader_hardie_2007__survivors') }}

),

cohort_start as (

    select timestamp '2000-01-01 00:00:00' as started_at

),

steps as (

    select
        cohort,
        year,
        survivors,
        lag(survivors) over (partition by cohort order by year)       as previous_survivors,
        max(year) over (partition by cohort)                          as last_year
    from survivors

),

-- per cohort and lifetime: how many subscriptions ended at the end of year t
-- (lifetime t), and the open ones (lifetime null) counted at the last year
groups as (

    select cohort, year as lifetime_years, previous_survivors - survivors as subscriptions
    from steps
    where year > 0
    union all
    select cohort, null as lifetime_years, survivors as subscriptions
    from steps
    where year = last_year

),

expanded as (

    select
        cohort,
        lifetime_years,
        unnest(generate_series(1, subscriptions)) as copy_number
    from groups
    where subscriptions > 0

),

numbered as (

    select
        *,
        row_number() over (partition by cohort order by lifetime_years asc nulls last, copy_number) as customer_number
    from expanded

),

final as (

    select
        replace(cohort, ' ', '_') || '-' || lpad(cast(customer_number as varchar), 4, '0')   as subscription_id,
        replace(cohort, ' ', '_') || '-' || lpad(cast(customer_number as varchar), 4, '0')   as customer_id,
        cohort                                                          as plan_level,
        'annual'                                                        as plan_type,
        cast(1.00 as decimal(18, 2))                                    as monthly_amount,
        cohort_start.started_at                                         as started_at,
        case when lifetime_years is not null
             then cohort_start.started_at + to_years(lifetime_years) end as ended_at,
        case when lifetime_years is not null then 'cancel' end          as end_reason,
        lifetime_years is not null                                      as is_churned
    from numbered
    cross join cohort_start

)

select * from final
