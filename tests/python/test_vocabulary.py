"""One vocabulary (docs/DESIGN.md, "Vocabulary"): a revenue column names its kind.
`transaction_revenue`, `subscription_revenue`, `total_revenue` (the two together),
`monthly_recurring_revenue` (a monthly rate, not an amount billed) and
`historical_value` (the value under clv_source) are different figures; a bare `revenue`
is allowed only in the product marts, which hold transactions alone and show
`gross_revenue` beside it."""
from __future__ import annotations

import pytest

PRODUCT_MARTS = {"category_mix", "channel_performance", "product_performance", "revenue_by_geography"}


@pytest.mark.parametrize("dataset", ["demo", "nexa_sat", "lita"])
def test_a_bare_revenue_column_is_only_in_the_product_marts(dataset_build, dataset):
    build = dataset_build(dataset)
    tables = {r[0] for r in build.query(
        "select table_name from information_schema.columns where column_name = 'revenue' "
        "and table_schema = 'main'")}
    assert tables <= PRODUCT_MARTS, sorted(tables - PRODUCT_MARTS)


def test_each_kind_of_revenue_has_its_own_name(dataset_build):
    demo = dataset_build("demo")
    columns = {(r[0], r[1]) for r in demo.query(
        "select table_name, column_name from information_schema.columns where table_schema = 'main'")}
    for table, column in [("cohort_retention", "total_revenue"), ("subscription_summary", "subscription_revenue"),
                          ("plan_level_summary", "monthly_recurring_revenue"),
                          ("churn_by_segment", "historical_value"), ("clv_segment_profile", "historical_value"),
                          ("demographic_segment_profile", "historical_value")]:
        assert (table, column) in columns, (table, column)
    # total_revenue is the sum of the two kinds, in every row
    assert demo.scalar("select count(*) from cohort_retention "
                       "where total_revenue <> transaction_revenue + subscription_revenue") == 0
