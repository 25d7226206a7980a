"""The semantic layer and the catalog's documentation (issue 12, items 3-4), on one
full build of the bundled demo dataset.

- `mf query` (MetricFlow, dbt-metricflow) answers metrics sliced by month, country
  and plan level; each figure is checked against the intermediate layer recomputed
  here with the stated rule (the refund rule, "active") or against the mart that
  owns the figure (churn_by_plan, funnel_steps), never against MetricFlow itself.
- every column of the build's catalog (`dbt docs generate`) has a description in
  the manifest, the dynamically named columns of the wide models included."""
from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from dbt_harness import PROJECT_DIR, dbt_executable


@pytest.fixture(scope="module")
def demo(demo_build):
    return demo_build  # the session's demo build (conftest.py): mf and docs generate only read it


def _env(demo) -> dict:
    return dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_HOME=str(PROJECT_DIR), SEGMENTS_DB=str(demo.published_path))


@pytest.fixture(scope="module")
def mf_root(demo):
    """A project root for `mf`: MetricFlow reads <root>/target/semantic_manifest.json
    (a fixed path), so the checkout's files are linked beside the build's own target."""
    workdir = demo.published_path.parent
    root = workdir / "mf_project"
    root.mkdir(exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests", "data"):
        link = root / name
        if not link.exists():
            link.symlink_to(PROJECT_DIR / name)
    if not (root / "target").exists():
        (root / "target").symlink_to(workdir / "target")
    assert (root / "target" / "semantic_manifest.json").exists(), "dbt build wrote no semantic_manifest.json"
    return root


def mf_query(demo, mf_root: Path, metrics: list[str], group_by: list[str]) -> list[dict]:
    out = mf_root.parent / f"mf_{'_'.join(metrics)}_{'_'.join(group_by)}.csv"
    proc = subprocess.run(
        [str(Path(dbt_executable()).with_name("mf")), "query", "--metrics", ",".join(metrics),
         "--group-by", ",".join(group_by), "--csv", str(out)],
        cwd=mf_root, env=dict(_env(demo), DBT_PROJECT_DIR=str(mf_root), DBT_PROFILES_DIR=str(PROJECT_DIR)),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    with out.open() as f:
        return list(csv.DictReader(f))


def _num(value: str) -> float | None:
    return None if value in ("", None) else float(value)


# -- mf query against the intermediate layer and the marts ---------------------

def test_transaction_revenue_orders_and_aov_by_month(demo, mf_root):
    rows = mf_query(demo, mf_root, ["transaction_revenue", "orders", "average_order_value"], ["metric_time__month"])
    got = {r["metric_time__month"][:7]: r for r in rows}
    # the refund rule: a negative amount is a refund, netted into revenue, never an
    # order. The default as-of date is the latest date among the rows used, so every
    # transaction of the demo counts.
    expected = demo.query("""
        select strftime(transacted_at, '%Y-%m') as month,
               sum(amount) as revenue,
               count(*) filter (where amount >= 0) as orders
        from intermediate.int_transactions
        group by 1 order by 1""")
    assert len(expected) == 24
    assert sorted(got) == [m for m, _, _ in expected]
    for month, revenue, orders in expected:
        row = got[month]
        assert abs(_num(row["transaction_revenue"]) - float(revenue)) < 0.005, (month, row, revenue)
        assert int(row["orders"]) == orders, (month, row, orders)
        assert abs(_num(row["average_order_value"]) - float(revenue) / orders) < 1e-6, (month, row)
    # refunds exist in the demo: the rule is exercised (revenue < sum of purchases)
    assert demo.scalar("select count(*) from intermediate.int_transactions where amount < 0") > 0
    total = sum(_num(r["transaction_revenue"]) for r in rows)
    assert abs(total - float(demo.scalar("select sum(amount) from intermediate.int_transactions"))) < 0.01


def test_active_customers_by_country(demo, mf_root):
    rows = mf_query(demo, mf_root, ["customers", "active_customers"], ["customer__country"])
    got = {r["customer__country"]: (int(r["customers"]), int(r["active_customers"])) for r in rows}
    # "active" recomputed from the intermediate layer: a subscription period open at
    # the end of the as-of day (started before it, no end or an end from then on),
    # or a purchase (amount >= 0) in the 90 days ending with the as-of day (the
    # default churn_inactivity_days); the population: customers signed up by then
    # (or without a sign-up date). As-of date: the latest date among the rows used.
    expected = demo.query("""
        with as_of as (
            select cast(max(d) as date) + interval 1 day as as_of_end from (
                select max(transacted_at) as d from intermediate.int_transactions
                union all select max(event_at) from intermediate.int_events
                union all select max(started_at) from intermediate.int_subscriptions
                union all select max(ended_at) from intermediate.int_subscriptions where ended_at < current_date
                union all select max(signed_up_at) from intermediate.int_customers)
        ),
        open_subs as (
            select distinct s.customer_id from intermediate.int_subscriptions s, as_of
            where (s.started_at is null or s.started_at < as_of.as_of_end)
              and (s.ended_at is null or s.ended_at >= as_of.as_of_end)
        ),
        recent as (
            select distinct t.customer_id from intermediate.int_transactions t, as_of
            where t.amount >= 0 and t.transacted_at >= as_of.as_of_end - interval 90 day
              and t.transacted_at < as_of.as_of_end
        )
        select c.country, count(*) as customers,
               count(*) filter (where c.customer_id in (select customer_id from open_subs)
                                   or c.customer_id in (select customer_id from recent)) as active
        from intermediate.int_customers c, as_of
        where c.signed_up_at is null or c.signed_up_at < as_of.as_of_end
        group by 1""")
    assert {country: (n, active) for country, n, active in expected} == got
    assert sum(n for n, _ in got.values()) == 3000
    assert 0 < sum(a for _, a in got.values()) < 3000


def test_churn_rate_by_plan_level_matches_churn_by_plan(demo, mf_root):
    rows = mf_query(demo, mf_root, ["churn_rate", "subscribers"], ["customer__plan_level"])
    got = {r["customer__plan_level"]: (_num(r["churn_rate"]), int(r["subscribers"])) for r in rows
           if r["customer__plan_level"]}
    expected = demo.query("""
        select plan_level, sum(churned_customers) / sum(customers), sum(customers)
        from churn_by_plan group by plan_level""")
    assert {p for p, _, _ in expected} == set(got) == {"Basic", "Standard", "Premium"}
    for plan, rate, subscribers in expected:
        assert got[plan][1] == subscribers, (plan, got[plan], subscribers)
        assert abs(got[plan][0] - rate) < 1e-9, (plan, got[plan], rate)
    # customers without a plan are no subscribers: no churn rate
    assert all(_num(r["churn_rate"]) is None for r in rows if not r["customer__plan_level"])


def test_funnel_conversion_rate_matches_funnel_steps(demo, mf_root):
    rows = mf_query(demo, mf_root, ["funnel_conversion_rate"], ["customer__country"])
    expected_total = demo.scalar("select conversion_from_start from funnel_steps order by step_number desc limit 1")
    # the overall rate from the per-country counts: mature completers / mature entrants
    by_country = dict(demo.query("""
        select c.country, count(*) filter (where f.is_mature and f.has_completed_funnel) / count(*) filter (where f.is_mature)
        from customer_funnel f join intermediate.int_customers c using (customer_id) group by 1"""))
    got = {r["customer__country"]: _num(r["funnel_conversion_rate"]) for r in rows}
    assert set(got) == set(by_country)
    for country, rate in by_country.items():
        assert abs(got[country] - rate) < 1e-9, (country, got[country], rate)
    overall = mf_query(demo, mf_root, ["funnel_conversion_rate"], ["metric_time__year"])
    entrants = demo.query("""
        select strftime(step_1_at, '%Y'),
               count(*) filter (where is_mature and has_completed_funnel),
               count(*) filter (where is_mature)
        from customer_funnel group by 1""")
    assert abs(sum(c for _, c, _ in entrants) / sum(e for _, _, e in entrants) - expected_total) < 1e-9
    assert {r["metric_time__year"][:4]: round(_num(r["funnel_conversion_rate"]), 9) for r in overall} == {
        y: round(c / e, 9) for y, c, e in entrants}


# -- every catalog column has a description ----------------------------------------

def test_every_catalog_column_is_documented(demo):
    target = demo.published_path.parent / "target"
    proc = subprocess.run(
        [dbt_executable(), "docs", "generate", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(target), "--log-path", str(target.parent / "logs"), "--no-use-colors",
         "--vars", json.dumps({"dataset": "demo"})],
        cwd=target.parent, env=_env(demo), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    columns = 0
    missing = []
    for section in ("nodes", "sources"):
        for unique_id, node in catalog[section].items():
            documented = {name.lower(): (col.get("description") or "").strip()
                          for name, col in manifest[section][unique_id]["columns"].items()}
            for name in node["columns"]:
                columns += 1
                if not documented.get(name.lower()):
                    missing.append(f"{manifest[section][unique_id]['name']}.{name}")
    assert columns > 800
    assert not missing, f"{len(missing)} of {columns} catalog columns have no description: {missing}"
