{#- One row per customer subscribed by the as-of date: the plan of their latest
    subscription period started by then, whether they have churned by then, whether
    that period is open at the as-of date, and their months billed. The rules are
    subscription_status_ctes (macros/customer_features.sql), the definition the
    point-in-time features use at every cutoff; this is it at the as-of date. -#}

with as_of_cutoff as (

    select cast({{ as_of_date() }} as date) as cutoff_date

),

{{ cutoff_bounds_cte('as_of_cutoff') }},

{{ subscription_status_ctes('pit_cutoffs') }},

final as (

    select
        customer_id,
        plan_level,
        plan_type,
        monthly_amount,
        tenure_months,
        first_started_at,
        periods,
        is_churned_at_cutoff                                    as is_churned,
        has_active_subscription
    from pit_subscription_status

)

select * from final
