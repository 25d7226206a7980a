"""CLV definitions (issue 9 §2 CLV part, §3 items 7 and 8): clv_score features on
one scale (var clv_score_scaling: rank by default), one CLV segment rule read by
customer_clv and churn_by_segment, and churn_by_segment's lapsed_share.

Partial builds of the demo dataset (no Python step). Every expected figure is
recomputed here from the intermediate layer with the stated rule: the
percentile rank 100 x (scored customers with a smaller value) / (scored - 1)
rounded half up to 6 decimals, the weighted sum rounded half up to
clv_score_scale decimals, continuous percentiles (numpy's linear percentile over
DOUBLE) and the clv_segments rules top-down. The telecom study (nexa_sat, raw
scaling) is pinned by test_nexa_sat_study.py and the build's
assert_nexa_sat_published_figures test."""
from __future__ import annotations

from bisect import bisect_left
from decimal import Decimal
from fractions import Fraction

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from dbt_harness import PROJECT_DIR, run_dbt

PROJECT_VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
WEIGHTS = PROJECT_VARS["clv_score_weights_by_source"]["combined"]  # the demo resolves to combined
SCALE = PROJECT_VARS["clv_score_scale"]
RULES = PROJECT_VARS["clv_segments"]
FLOOR = PROJECT_VARS["clv_segment_floor_label"]
SELECT = ["--select", "+customer_clv", "+clv_segment_cutoffs", "+churn_by_segment",
          "--indirect-selection", "cautious"]


def _build(workdir, vars: dict):
    result = run_dbt(workdir, vars={"dataset": "demo", **vars}, extra=SELECT)
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def demo(demo_build):
    return demo_build  # the session's default build of demo (conftest.py)


@pytest.fixture(scope="module")
def demo_raw(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("clv_raw"), {"clv_score_scaling": "raw"})


def _frame(result, sql: str) -> pd.DataFrame:
    """Query result as a DataFrame of Python values (DECIMAL stays Decimal)."""
    with duckdb.connect(str(result.db_path), read_only=True) as con:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns, dtype=object)


def _half_up(value: Fraction, places: int) -> Decimal:
    """value rounded half up (away from zero; values here are >= 0) to places decimals, exactly."""
    scaled = value * 10 ** places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return Decimal(whole).scaleb(-places)


def _features(result) -> pd.DataFrame:
    columns = ", ".join(WEIGHTS)
    frame = _frame(result, f"""
        select customer_id, is_active_customer, is_lapsed, {columns}
        from intermediate.int_customer_value_features where has_value_history order by customer_id""")
    frame["is_scored"] = frame.is_active_customer.fillna(False).astype(bool)
    return frame


def _ranks(frame: pd.DataFrame) -> dict[str, list[Decimal]]:
    """Percentile rank in points of each feature against the scored population."""
    n = int(frame.is_scored.sum())
    ranks = {}
    for feature in WEIGHTS:
        values = [Fraction(str(v)) if pd.notna(v) else Fraction(0) for v in frame[feature]]
        scored = sorted(v for v, s in zip(values, frame.is_scored) if s)
        ranks[feature] = [min(_half_up(Fraction(100 * bisect_left(scored, v), n - 1), 6), Decimal(100))
                          for v in values]
    return ranks


def _expected_scores(frame: pd.DataFrame) -> tuple[pd.Series, dict[str, list[Decimal]]]:
    ranks = _ranks(frame)
    scores = []
    for i in range(len(frame)):
        total = sum((Fraction(str(w)) * Fraction(ranks[f][i]) for f, w in WEIGHTS.items()), Fraction(0))
        scores.append(_half_up(total, SCALE))
    return pd.Series(scores, index=frame.customer_id), ranks


def _segment(score: float, cutoffs: list[float]) -> str:
    for rule, cutoff in zip(RULES, cutoffs):
        if (score > cutoff) if rule.get("op", ">=") == ">" else (score >= cutoff):
            return rule["label"]
    return FLOOR


# -- item 7: features on one scale ---------------------------------------------

def test_clv_score_is_the_weighted_percentile_rank(demo):
    frame = _features(demo)
    expected, _ = _expected_scores(frame)
    clv = _frame(demo, "select customer_id, clv_score from customer_clv order by customer_id")
    assert len(clv) == frame.is_scored.sum() == 1622
    wrong = [(c, s, expected[c]) for c, s in zip(clv.customer_id, clv.clv_score) if s != expected[c]]
    assert wrong == []
    # every customer with a history gets the same definition (lapsed ones too)
    everyone = _frame(demo, "select customer_id, clv_score, is_scored from customer_clv_score order by customer_id")
    assert list(everyone.customer_id) == list(frame.customer_id)
    assert [s for s in everyone.clv_score] == list(expected)
    assert list(everyone.is_scored) == list(frame.is_scored)


def test_no_feature_dominates_the_score(demo):
    frame = _features(demo)
    _expected, ranks = _expected_scores(frame)
    scored = frame.is_scored.to_numpy()
    # mean contribution of each weighted feature = weight x its mean rank
    contribution = {f: float(w) * float(np.mean([float(r) for r, s in zip(ranks[f], scored) if s]))
                    for f, w in WEIGHTS.items()}
    mean_score = float(_frame(demo, "select avg(clv_score) from customer_clv").iloc[0, 0])
    # the score is the sum of the contributions (up to the rounding of each score)
    assert abs(mean_score - sum(contribution.values())) <= 0.005
    shares = {f: c / sum(contribution.values()) for f, c in contribution.items()}
    # raw units gave total_spend 94.5% of the score and orders, order value and
    # active days 1.6% together; on one scale no feature passes half of it
    assert max(shares.values()) < 0.5, shares
    assert shares["orders"] + shares["avg_order_value"] + shares["active_days"] > 0.2, shares


def test_raw_scaling_keeps_the_exact_raw_formula(demo_raw):
    frame = _features(demo_raw).set_index("customer_id")
    clv = _frame(demo_raw, "select customer_id, clv_score from customer_clv")
    for customer_id, score in zip(clv.customer_id, clv.clv_score):
        row = frame.loc[customer_id]
        total = sum((Fraction(str(w)) * (Fraction(str(row[f])) if pd.notna(row[f]) else Fraction(0))
                     for f, w in WEIGHTS.items()), Fraction(0))
        assert score == _half_up(total, SCALE), customer_id
    # C000860 is exactly 40.495: half up -> 40.50
    assert demo_raw.scalar("select clv_score from customer_clv where customer_id = 'C000860'") == Decimal("40.50")


# -- one CLV segment rule ------------------------------------------------------

def test_one_segment_rule_for_customer_clv_and_churn_by_segment(demo):
    frame = _features(demo)
    expected, _ = _expected_scores(frame)
    frame["score"] = [float(expected[c]) for c in frame.customer_id]
    scored_scores = frame.loc[frame.is_scored, "score"].to_numpy(dtype=float)
    cutoffs = [float(np.percentile(scored_scores, 100 * rule["percentile"])) for rule in RULES]
    stored = _frame(demo, "select clv_segment_rank, clv_segment, clv_score_cutoff from clv_segment_cutoffs "
                          "order by clv_segment_rank")
    assert list(stored.clv_segment) == [r["label"] for r in RULES]
    assert np.allclose(stored.clv_score_cutoff.to_numpy(), cutoffs, rtol=0, atol=1e-9)
    frame["segment"] = [_segment(s, cutoffs) for s in frame.score]

    clv = _frame(demo, "select customer_id, clv_segment from customer_clv order by customer_id")
    mine = frame[frame.is_scored].set_index("customer_id").segment
    assert dict(zip(clv.customer_id, clv.clv_segment)) == mine.to_dict()

    by_segment = {r[0]: (r[1], r[2]) for r in demo.query(
        "select dimension_value, customers, lapsed_customers from churn_by_segment where dimension_name = 'clv_segment'")}
    lapsed = ~frame.is_scored
    recomputed = {seg: (int((frame.segment == seg).sum()), int(((frame.segment == seg) & lapsed).sum()))
                  for seg in frame.segment.unique()}
    assert by_segment == recomputed


# -- item 8: lapsed_share, not a churn rate --------------------------------------

def test_churn_by_segment_reports_the_lapsed_share(demo):
    columns = [r[0] for r in demo.query("select column_name from (describe churn_by_segment)")]
    assert "churn_rate" not in columns and "churned_customers" not in columns
    assert {"lapsed_customers", "lapsed_share"} <= set(columns)
    frame = _features(demo)
    # lapsed = a value history and not active at the as-of date
    assert (frame.is_lapsed == ~frame.is_scored).all()
    plans = _frame(demo, "select customer_id, coalesce(plan_level, '(no subscription)') as plan_level "
                         "from intermediate.int_customer_value_features where has_value_history")
    frame = frame.merge(plans, on="customer_id")
    frame["lapsed"] = ~frame.is_active_customer.fillna(False).astype(bool)
    expected = {plan: (len(g), int(g.lapsed.sum()), g.lapsed.sum() / len(g)) for plan, g in frame.groupby("plan_level")}
    got = {r[0]: (r[1], r[2], r[3]) for r in demo.query(
        "select dimension_value, customers, lapsed_customers, lapsed_share from churn_by_segment "
        "where dimension_name = 'plan_level'")}
    assert got.keys() == expected.keys()
    for plan, (customers, lapsed, share) in expected.items():
        assert got[plan][:2] == (customers, lapsed)
        assert got[plan][2] == pytest.approx(share, abs=1e-12)
    overall = demo.scalar("select sum(lapsed_customers) / sum(customers) from churn_by_segment "
                          "where dimension_name = 'clv_segment'")
    assert overall == pytest.approx(frame.lapsed.mean(), abs=1e-12)
    assert round(overall, 3) == 0.453


def test_wrong_clv_score_scaling_stops_the_build_naming_the_choices(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "clv_score_scaling": "zscore"},
                     extra=["--select", "customer_clv"])
    assert result.returncode != 0
    assert "var('clv_score_scaling')" in result.output and "use rank" in result.output, result.output[-3000:]
