"""Funnel and product/channel/geography marts on generated data, checked against
independent brute-force Python references computed from the same canonical
inputs (int_events, int_transactions, int_customers).

The dbt unit tests (models/marts/{funnel,product}/*.yml) pin the rules on tiny
fixtures; these tests check that the set-based SQL agrees with a literal,
loop-based reading of the documented semantics on a few thousand real rows.
"""
from __future__ import annotations

import itertools
import shutil
from collections import defaultdict

import numpy as np
import pytest

from dbt_harness import run_dbt
from segkit.generate import generate, write

MY_MARTS = ["customer_funnel", "funnel_steps", "funnel_by_dimension", "funnel_step_times",
            "customer_funnel_chains", "funnel_by_cohort", "funnel_course_completion",
            "product_performance", "category_mix", "cross_sell_pairs", "channel_performance",
            "revenue_by_geography"]
SELECT = ["--indirect-selection", "cautious", "--select"] + ["+" + m for m in MY_MARTS]
STEPS = ["signed_up", "enrolled_in_course", "completed_course"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("funnel_data")
    write(generate(400, seed=7), data_dir, "csv")
    result = run_dbt(tmp_path_factory.mktemp("funnel_build"), vars={"dataset": "files", "input_dir": str(data_dir)},
                     extra=SELECT)
    assert result.returncode == 0, result.output[-4000:]
    result.data_dir = data_dir
    return result


def _events(demo):
    rows = demo.query("select customer_id, event_at, event_name, object_id from intermediate.int_events "
                      f"where event_name in ({', '.join(repr(s) for s in STEPS)})")
    by_customer = defaultdict(list)
    for customer, at, name, obj in rows:
        by_customer[customer].append((at, name, obj))
    return by_customer


def reference_funnel(by_customer, match_from: int | None):
    """Brute force: {customer: (path_object, [t1, t2, t3])}, steps >= match_from on one object."""
    out = {}
    for customer, events in by_customer.items():
        t1 = min((at for at, name, _ in events if name == STEPS[0]), default=None)
        if t1 is None:
            continue
        if match_from is None:
            chains = {None: None}
        else:
            chains = {obj: obj for _, name, obj in events if obj is not None and name == STEPS[match_from - 1]}
            if not chains:
                chains = {None: "__none__"}
        candidates = []
        for obj, key in chains.items():
            times = [t1]
            for k in range(2, len(STEPS) + 1):
                keyed = match_from is not None and k >= match_from
                if keyed and key == "__none__":
                    break
                eligible = [at for at, name, o in events
                            if name == STEPS[k - 1] and at >= times[-1] and (not keyed or o == key)]
                if not eligible:
                    break
                times.append(min(eligible))
            furthest = len(times)
            path_obj = obj if (match_from is not None and furthest >= match_from) else None
            candidates.append((-furthest, times[-1], path_obj or "\uffff", path_obj, times))
        best = min(candidates)
        out[customer] = (best[3], best[4] + [None] * (len(STEPS) - len(best[4])))
    return out


def _mart_funnel(result):
    return {r[0]: (r[1], [r[2], r[3], r[4]]) for r in result.query(
        "select customer_id, path_object_id, step_1_at, step_2_at, step_3_at from customer_funnel")}


def test_customer_funnel_matches_reference_with_object_matching(demo):
    expected = reference_funnel(_events(demo), match_from=2)
    assert _mart_funnel(demo) == expected
    assert len(expected) > 300


def test_customer_funnel_matches_reference_without_object_matching(demo, tmp_path):
    # start from the demo build: `dbt run` writes the build database (.build/)
    (tmp_path / ".build").mkdir()
    shutil.copy(demo.db_path, tmp_path / ".build" / "warehouse.duckdb")
    other = run_dbt(tmp_path, command="run",
                    vars={"dataset": "files", "input_dir": str(demo.data_dir), "funnel_match_object": False},
                    extra=["--select", "customer_funnel_chains", "customer_funnel"])
    assert other.returncode == 0, other.output[-4000:]
    assert _mart_funnel(other) == reference_funnel(_events(demo), match_from=None)


def test_funnel_steps_and_times(demo):
    ref = reference_funnel(_events(demo), match_from=2)
    reached = [sum(1 for _, times in ref.values() if times[k] is not None) for k in range(3)]
    rows = demo.query("select step_number, users, conversion_from_previous, conversion_from_start "
                      "from funnel_steps order by step_number")
    assert [r[1] for r in rows] == reached
    assert rows[0][2] is None and rows[0][3] == 1.0
    assert rows[2][2] == pytest.approx(reached[2] / reached[1])
    assert rows[2][3] == pytest.approx(reached[2] / reached[0])

    times = {(r[0], r[1]): r[2:] for r in demo.query(
        "select from_step, to_step, users, median_hours, p90_hours from funnel_step_times")}
    # each step is timed on the customer's first path to it: signup -> the FIRST
    # enrolment (with a course) after it; completion: the matched path's chain
    events = _events(demo)
    first_enrolment = {}
    for customer, (_, t) in ref.items():
        enrolments = [at for at, name, obj in events[customer]
                      if name == STEPS[1] and obj is not None and at >= t[0]]
        if enrolments:
            first_enrolment[customer] = [t[0], min(enrolments)]
    for i, j in [(1, 2), (2, 3), (1, 3)]:
        paths = first_enrolment.values() if (i, j) == (1, 2) else [t for _, t in ref.values()]
        hours = [(t[j - 1] - t[i - 1]).total_seconds() / 3600 for t in paths if t[j - 1] is not None]
        users, median, p90 = times[(i, j)]
        assert users == len(hours)
        assert median == pytest.approx(np.percentile(hours, 50))  # linear = continuous percentile
        assert p90 == pytest.approx(np.percentile(hours, 90))


def test_funnel_by_dimension_adds_up(demo):
    total = demo.query("select step_number, users from funnel_steps")
    for dimension in ["country", "referral_channel"]:
        sums = dict(demo.query("select step_number, sum(users) from funnel_by_dimension "
                               f"where dimension_name = '{dimension}' group by 1"))
        assert sums == dict(total)
    ref = reference_funnel(_events(demo), match_from=2)
    channel = dict(demo.query("select customer_id, referral_channel from intermediate.int_customers"))
    completed = defaultdict(int)
    for customer, (_, t) in ref.items():
        if t[2] is not None:
            completed[channel[customer] or "(unknown)"] += 1
    got = dict(demo.query("select dimension_value, users from funnel_by_dimension "
                          "where dimension_name = 'referral_channel' and step_number = 3"))
    assert got == {k: completed.get(k, 0) for k in got}


def _transactions(demo):
    return demo.query("select customer_id, amount, product_id, product_category, channel, coalesce(quantity, 1) "
                      "from intermediate.int_transactions")


def test_product_performance(demo):
    revenue, units, buyers = defaultdict(float), defaultdict(int), defaultdict(set)
    for customer, amount, product, _, _, qty in _transactions(demo):
        if product is None:
            continue
        revenue[product] += float(amount)
        units[product] += qty if amount >= 0 else -qty
        if amount >= 0:
            buyers[product].add(customer)
    rows = {r[0]: r[1:] for r in demo.query(
        "select product_id, revenue, units, customers, revenue_rank, is_laggard, laggard_revenue_cutoff "
        "from product_performance")}
    assert set(rows) == set(revenue)
    cutoff = np.percentile(list(revenue.values()), 20)
    distinct = sorted({round(v, 2) for v in revenue.values()}, reverse=True)
    for product, (rev, u, customers, rank, is_laggard, mart_cutoff) in rows.items():
        assert float(rev) == pytest.approx(revenue[product])
        assert u == units[product] and customers == len(buyers[product])
        assert rank == distinct.index(round(revenue[product], 2)) + 1
        assert mart_cutoff == pytest.approx(cutoff)
        assert is_laggard == (revenue[product] <= cutoff + 1e-9)


def test_revenue_reconciles_across_marts(demo):
    total = demo.scalar("select sum(amount) from intermediate.int_transactions")
    for mart in ["category_mix", "channel_performance", "revenue_by_geography"]:
        assert demo.scalar(f"select sum(revenue) from {mart}") == total, mart
        assert demo.scalar(f"select sum(revenue_share) from {mart}") == pytest.approx(1.0)
    with_product = demo.scalar("select sum(amount) from intermediate.int_transactions where product_id is not null")
    assert demo.scalar("select sum(revenue) from product_performance") == with_product
    assert demo.scalar("select sum(customers) from revenue_by_geography") == \
        demo.scalar("select count(*) from intermediate.int_customers")


def test_cross_sell_pairs_match_brute_force(demo):
    # default basket: the customer's order_id, else the customer's calendar day
    net = defaultdict(int)
    for customer, order, at, amount, category in demo.query(
            "select customer_id, order_id, transacted_at, amount, product_category from intermediate.int_transactions"):
        if category is not None:
            basket = (customer, "order", order) if order is not None else (customer, "day", at.date())
            net[(basket, category)] += 1 if amount >= 0 else -1
    baskets = defaultdict(set)
    for (basket, category), lines in net.items():
        if lines > 0:
            baskets[basket].add(category)
    n = len(baskets)
    item_count = defaultdict(int)
    pair_count = defaultdict(int)
    for items in baskets.values():
        for item in items:
            item_count[item] += 1
        for a, b in itertools.combinations(sorted(items), 2):
            pair_count[(a, b)] += 1
    expected = {pair: c for pair, c in pair_count.items() if c / n >= 0.01}
    rows = {(r[0], r[1]): r[2:] for r in demo.query(
        "select item_a, item_b, baskets_both, support, confidence_a_to_b, confidence_b_to_a, lift, baskets "
        "from cross_sell_pairs")}
    assert set(rows) == set(expected)
    for (a, b), (both, support, conf_ab, conf_ba, lift, baskets_n) in rows.items():
        assert baskets_n == n and both == expected[(a, b)]
        assert support == pytest.approx(both / n)
        assert conf_ab == pytest.approx(both / item_count[a])
        assert conf_ba == pytest.approx(both / item_count[b])
        assert lift == pytest.approx((both / n) / ((item_count[a] / n) * (item_count[b] / n)))


def test_telecom_builds_these_marts_empty(dataset_build):
    result = dataset_build("nexa_sat")  # the session's default build of nexa_sat (conftest.py)
    for mart in MY_MARTS:
        assert result.scalar(f"select count(*) from {mart}") == 0, mart
