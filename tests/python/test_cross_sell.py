"""Cross-sell baskets (issue 9 section 3 item 3): the default basket is one order
(order_id; a line without one: its customer-day), not a customer's whole history.

Every figure is recomputed here with pandas from the raw CSV and the rule stated in
models/marts/product/_product__models.yml: an item is in a basket when the basket
holds more sale rows (amount >= 0) than refund rows (amount < 0) of it; N = baskets
holding an item; support = both / N; confidence = both / baskets of the antecedent;
lift = both x N / (baskets_a x baskets_b); pairs with support >= 0.01 are kept."""
from __future__ import annotations

import itertools
from collections import Counter

import pandas as pd
import pytest

from dbt_harness import PROJECT_DIR, run_dbt

DEMO_TRANSACTIONS = PROJECT_DIR / "data" / "demo" / "transactions.csv"
PARTIAL = ["--select", "+cross_sell_pairs", "--indirect-selection", "cautious"]
MIN_SUPPORT = 0.01
COLUMNS = ("item_a, item_b, basket_type, baskets_both, baskets_a, baskets_b, baskets, "
           "support, support_a, support_b, confidence_a_to_b, confidence_b_to_a, lift")


def reference_pairs(lines: pd.DataFrame, basket: str, item: str = "product_category") -> dict:
    """{(a, b): (both, baskets_a, baskets_b, N)} of the pairs with support >= MIN_SUPPORT."""
    lines = lines[lines[item].notna()].copy()
    day = pd.to_datetime(lines["transacted_at"]).dt.strftime("%Y-%m-%d")
    if basket == "customer_lifetime":
        lines["basket"] = lines["customer_id"]
    elif basket == "customer_day":
        lines["basket"] = lines["customer_id"] + "|day|" + day
    else:  # order: the customer's order_id, else the customer-day
        order = lines["order_id"] if "order_id" in lines else pd.Series(None, index=lines.index, dtype=object)
        by_order = lines["customer_id"] + "|order|" + order.astype(str)
        lines["basket"] = by_order.where(order.notna(), lines["customer_id"] + "|day|" + day)
    lines["net"] = (lines["amount"] >= 0).map({True: 1, False: -1})
    net = lines.groupby(["basket", item])["net"].sum()
    baskets = net[net > 0].reset_index().groupby("basket")[item].apply(lambda s: sorted(set(s)))
    n = len(baskets)
    item_count, pair_count = Counter(), Counter()
    for items in baskets:
        item_count.update(items)
        pair_count.update(itertools.combinations(items, 2))
    return {pair: (both, item_count[pair[0]], item_count[pair[1]], n)
            for pair, both in pair_count.items() if both / n >= MIN_SUPPORT}


def assert_mart_matches(result, expected: dict, basket: str) -> dict:
    rows = {(r[0], r[1]): r[2:] for r in result.query(f"select {COLUMNS} from cross_sell_pairs")}
    assert set(rows) == set(expected)
    for pair, (basket_type, both, n_a, n_b, n, support, s_a, s_b, conf_ab, conf_ba, lift) in rows.items():
        e_both, e_a, e_b, e_n = expected[pair]
        assert basket_type == basket
        assert (both, n_a, n_b, n) == (e_both, e_a, e_b, e_n), pair
        assert support == pytest.approx(e_both / e_n, rel=1e-12)
        assert s_a == pytest.approx(e_a / e_n, rel=1e-12) and s_b == pytest.approx(e_b / e_n, rel=1e-12)
        assert conf_ab == pytest.approx(e_both / e_a, rel=1e-12)
        assert conf_ba == pytest.approx(e_both / e_b, rel=1e-12)
        assert lift == pytest.approx(e_both * e_n / (e_a * e_b), rel=1e-12)
    return rows


@pytest.fixture(scope="module")
def demo_raw():
    raw = pd.read_csv(DEMO_TRANSACTIONS, dtype={"customer_id": str, "product_category": str})
    assert "order_id" not in raw.columns  # the demo has no order ids: order baskets are customer-days
    return raw


def _demo_build(workdir, **vars):
    result = run_dbt(workdir, vars={"dataset": "demo", **vars}, extra=PARTIAL)
    assert result.returncode == 0, result.output[-4000:]
    return result


def test_demo_default_baskets_are_order_level(demo_build, demo_raw):
    result = demo_build  # the session's default build of demo (conftest.py)
    # every raw line is used (none rejected, none after the default as-of date)
    assert result.scalar("select count(*) from intermediate.int_transactions") == len(demo_raw)
    expected = reference_pairs(demo_raw, "order")
    assert expected == reference_pairs(demo_raw, "customer_day")
    rows = assert_mart_matches(result, expected, "order")
    # one-day baskets: 3 pairs pass the support threshold, Data Science - Programming
    # is bought together less often than by chance
    assert sorted(rows) == [("Business", "Marketing"), ("Data Science", "Programming"), ("Design", "Photography")]
    assert round(rows[("Data Science", "Programming")][-1], 2) == 0.80


def test_demo_customer_lifetime_is_a_separate_measure(tmp_path, demo_raw):
    result = _demo_build(tmp_path, cross_sell_basket="customer_lifetime")
    rows = assert_mart_matches(result, reference_pairs(demo_raw, "customer_lifetime"), "customer_lifetime")
    # whole histories: all 28 category pairs, every lift above 1 (heavy buyers, not affinity)
    assert len(rows) == 28 and all(r[-1] > 1 for r in rows.values())
    assert round(rows[("Data Science", "Programming")][-1], 2) == 1.33


# Order 1001 spans midnight; a1's orders 1002 and 1003 share a day; a2's lines
# without an order id make a customer-day basket; a3's Music is refunded inside
# its order 3001 two days later.
TINY = """transaction_id,order_id,customer_id,transacted_at,amount,product_id,product_category
t01,1001,a1,2024-03-01 23:58:00,10.00,p1,Books
t02,1001,a1,2024-03-02 00:03:00,12.00,p2,Music
t03,1002,a1,2024-03-02 10:00:00,8.00,p3,Games
t04,1003,a1,2024-03-02 18:00:00,9.00,p4,Toys
t05,2001,a2,2024-03-04 09:00:00,10.00,p1,Books
t06,2001,a2,2024-03-04 09:00:00,12.00,p2,Music
t07,,a2,2024-03-05 11:00:00,8.00,p3,Games
t08,,a2,2024-03-05 16:00:00,9.00,p4,Toys
t09,3001,a3,2024-03-06 10:00:00,10.00,p1,Books
t10,3001,a3,2024-03-06 10:00:00,12.00,p2,Music
t11,3001,a3,2024-03-08 10:00:00,-12.00,p2,Music
t12,4001,a4,2024-03-09 10:00:00,8.00,p3,Games
"""


def test_order_id_is_the_basket(tmp_path):
    data = tmp_path / "shop"
    data.mkdir()
    (data / "transactions.csv").write_text(TINY)
    result = run_dbt(tmp_path / "build", vars={"dataset": "files", "input_dir": str(data)}, extra=PARTIAL)
    assert result.returncode == 0, result.output[-4000:]
    assert result.scalar("select count(order_id) from intermediate.int_transactions") == 10
    raw = pd.read_csv(data / "transactions.csv", dtype=str)
    raw["amount"] = raw["amount"].astype(float)
    expected = reference_pairs(raw, "order")
    # the two readings differ on this folder, so the mart shows which one is used
    assert expected != reference_pairs(raw, "customer_day")
    rows = assert_mart_matches(result, expected, "order")
    # by hand: baskets {Books, Music} x2 (1001 across midnight, 2001), {Games}, {Toys},
    # {Games, Toys} (a2's day), {Books} (3001 after its refund), {Games}: N = 7
    assert {pair: r[1:5] for pair, r in rows.items()} == {
        ("Books", "Music"): (2, 3, 2, 7),
        ("Games", "Toys"): (1, 3, 2, 7),
    }


def test_old_basket_names_stop_the_build_with_the_new_name(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "cross_sell_basket": "customer"}, extra=PARTIAL)
    assert result.returncode != 0
    assert "Invalid setting var('cross_sell_basket'): 'customer' is no longer a basket name" in result.output
    assert "use 'customer_lifetime' (the same basket)" in result.output
