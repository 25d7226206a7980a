{{ config(materialized='ephemeral', enabled=dataset_adapter_enabled()) }}
{#- Types every raw column and records why a row cannot be used. Read by
    stg_nexa_sat__subscribers (the usable rows) and
    stg_nexa_sat__subscribers_rejected (the rest, with the reason). -#}

with source as (

    select * from {{ raw_relation('nexa_sat_subscribers') }}

),

typed as (

    select
        nullif(trim(Customer_ID), '')                           as customer_id,
        nullif(trim(Gender), '')                                as gender,
        {{ parse_yes_no('Partner') }}                           as has_partner,
        {{ parse_yes_no('Dependents') }}                        as has_dependents,
        {{ parse_yes_no('Senior_Citizen') }}                    as is_senior_citizen,
        try_cast(trim(Call_Duration) as decimal(18, 2))         as call_duration,
        try_cast(trim(Data_Usage) as decimal(18, 2))            as data_usage,
        nullif(trim(Plan_Type), '')                             as plan_type,
        nullif(trim(Plan_Level), '')                            as plan_level,
        try_cast(trim(Monthly_Bill_Amount) as decimal(18, 2))   as monthly_amount,
        try_cast(trim(Tenure_Months) as integer)                as tenure_months,
        {{ parse_yes_no('Multiple_Lines') }}                    as has_multiple_lines,
        {{ parse_yes_no('Tech_Support') }}                      as has_tech_support,
        {{ parse_yes_no('Churn') }}                             as is_churned,
        source                                                  as raw,
        cast(to_json(source) as varchar)                        as raw_row
    from source

),

counted as (

    select
        *,
        count(*) over (partition by customer_id)                as id_copies,
        count(*) over (partition by raw_row)                    as exact_copies,
        row_number() over (partition by raw_row)                as exact_copy_number
    from typed

),

checked as (

    select
        *,
        {{ rejection_reason([
            ("customer_id is null", "'missing Customer_ID'"),
            ("exact_copy_number > 1", "'exact duplicate of another row'"),
            ("customer_id is not null and id_copies > exact_copies",
             "'conflicting duplicate Customer_ID (' || id_copies || ' rows with this id differ)'"),
            ("plan_level is null", "'missing Plan_Level'"),
            ("plan_level is not null and plan_level not in ('Basic', 'Premium')",
             "'unknown Plan_Level ' || '''' || plan_level || ''''"),
            ("plan_type is null", "'missing Plan_Type'"),
            ("plan_type is not null and plan_type not in ('Prepaid', 'Postpaid')",
             "'unknown Plan_Type ' || '''' || plan_type || ''''"),
            ("nullif(trim(raw.Monthly_Bill_Amount), '') is null", "'missing Monthly_Bill_Amount'"),
            (is_unparseable('raw.Monthly_Bill_Amount', 'monthly_amount'), "'Monthly_Bill_Amount is not a number: ' || '''' || raw.Monthly_Bill_Amount || ''''"),
            ("monthly_amount < 0", "'negative Monthly_Bill_Amount'"),
            ("nullif(trim(raw.Tenure_Months), '') is null", "'missing Tenure_Months'"),
            (is_unparseable('raw.Tenure_Months', 'tenure_months'), "'Tenure_Months is not an integer: ' || '''' || raw.Tenure_Months || ''''"),
            ("tenure_months < 0", "'negative Tenure_Months'"),
            ("nullif(trim(raw.Churn), '') is null", "'missing Churn'"),
            (is_unparseable('raw.Churn', 'is_churned'), "'unknown Churn value ' || '''' || raw.Churn || ''''"),
            (is_unparseable('raw.Partner', 'has_partner'), "'unknown Yes/No value in Partner: ' || '''' || raw.Partner || ''''"),
            (is_unparseable('raw.Dependents', 'has_dependents'), "'unknown Yes/No value in Dependents: ' || '''' || raw.Dependents || ''''"),
            (is_unparseable('raw.Senior_Citizen', 'is_senior_citizen'), "'unknown 0/1 value in Senior_Citizen: ' || '''' || raw.Senior_Citizen || ''''"),
            (is_unparseable('raw.Multiple_Lines', 'has_multiple_lines'), "'unknown Yes/No value in Multiple_Lines: ' || '''' || raw.Multiple_Lines || ''''"),
            (is_unparseable('raw.Tech_Support', 'has_tech_support'), "'unknown Yes/No value in Tech_Support: ' || '''' || raw.Tech_Support || ''''"),
            (is_unparseable('raw.Call_Duration', 'call_duration'), "'Call_Duration is not a number: ' || '''' || raw.Call_Duration || ''''"),
            ("call_duration < 0", "'negative Call_Duration'"),
            (is_unparseable('raw.Data_Usage', 'data_usage'), "'Data_Usage is not a number: ' || '''' || raw.Data_Usage || ''''"),
            ("data_usage < 0", "'negative Data_Usage'")
        ]) }} as rejection_reason
    from counted

)

select * from checked
