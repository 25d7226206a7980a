"""Tests for segkit.btyd (BG/NBD + Gamma-Gamma by maximum likelihood).

Benchmark: the CDNOW sample of 2,357 customers (Fader, Hardie & Lee 2005),
shipped in tests/data/cdnow/ (see README.md there).  The conventions that
reproduce the published estimates are checked here with an independent
pandas reference built from the raw transactions:

* calibration period 1997-01-01 .. 1997-09-30 inclusive (39 weeks);
* all transactions of a customer on the same calendar day form ONE purchase
  (their dollar values summed);
* frequency x = number of distinct purchase days in the calibration period - 1;
* recency t_x = (last purchase day - first purchase day) in days / 7;
* T = (1997-09-30 - first purchase day) in days / 7;
* zbar (monetary value) = mean of the per-day totals of the repeat purchase
  days (first day excluded), 0 when x == 0.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad
from scipy.special import hyp2f1

from segkit.btyd import BetaGeoFitter, GammaGammaFitter
from segkit.btyd import customer_lifetime_value as _customer_lifetime_value

#: the settings score_clv passes (clv_forecast_* in dbt_project.yml; weeks)
CLV_SETTINGS = dict(horizon_months=12, monthly_discount_rate=0.01, time_unit="week", days_per_month=30.0)


def customer_lifetime_value(*args, **kwargs):
    """customer_lifetime_value as score_clv calls it, with some settings changed."""
    return _customer_lifetime_value(*args, **{**CLV_SETTINGS, **kwargs})

DATA = Path(__file__).resolve().parents[1] / "data" / "cdnow"

# Published estimates (FHL 2005 for BG/NBD, time unit weeks; Fader & Hardie
# 2013 for Gamma-Gamma).
PUB_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUB_BG_LL = -9582.4
PUB_GG = {"p": 6.25, "q": 3.74, "v": 15.44}

CALIBRATION_END = pd.Timestamp("1997-09-30")


def sig3(v: float) -> float:
    """Round to 3 significant figures."""
    return float(f"{v:.3g}")


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def load_transactions() -> pd.DataFrame:
    tx = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "n_cds", "dollars"],
        dtype={"master_id": str, "date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


def reference_summary(tx: pd.DataFrame, collapse_days: bool = True) -> pd.DataFrame:
    """Independent calibration summary (x, t_x, T in weeks, zbar) from raw rows."""
    cal = tx[tx["date"] <= CALIBRATION_END]
    if collapse_days:
        cal = cal.groupby(["customer_id", "date"], as_index=False)["dollars"].sum()
    cal = cal.sort_values(["customer_id", "date"], kind="stable").copy()
    grp = cal.groupby("customer_id")
    first = grp["date"].min()
    last = grp["date"].max()
    out = pd.DataFrame(
        {
            "x": (grp.size() - 1).astype(float),
            "t_x": (last - first).dt.days / 7.0,
            "T": (CALIBRATION_END - first).dt.days / 7.0,
        }
    )
    cal["k"] = cal.groupby("customer_id").cumcount()
    zbar = cal[cal["k"] > 0].groupby("customer_id")["dollars"].mean()
    out["zbar"] = zbar.reindex(out.index).fillna(0.0)
    return out


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return load_transactions()


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    df = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return df.set_index("ID")


@pytest.fixture(scope="module")
def ref_summary(transactions: pd.DataFrame) -> pd.DataFrame:
    return reference_summary(transactions)


@pytest.fixture(scope="module")
def published_bg() -> BetaGeoFitter:
    return BetaGeoFitter.from_params(**PUB_BG)


# --------------------------------------------------------------------------- #
# data conventions
# --------------------------------------------------------------------------- #
def test_raw_sample_shape(transactions: pd.DataFrame) -> None:
    assert transactions["customer_id"].nunique() == 2357
    assert transactions["date"].min() == pd.Timestamp("1997-01-01")
    # every customer makes the first purchase in Q1 1997
    assert transactions.groupby("customer_id")["date"].min().max() <= pd.Timestamp("1997-03-31")


def test_shipped_summaries_agree(shipped: pd.DataFrame) -> None:
    plain = pd.read_csv(DATA / "cdnow_customers_summary.csv").set_index("ID")
    assert len(plain) == len(shipped) == 2357
    np.testing.assert_array_equal(plain["frequency"].to_numpy(), shipped["x"].to_numpy())
    np.testing.assert_allclose(plain["recency"], shipped["t_x"], atol=1e-12)
    np.testing.assert_allclose(plain["T"], shipped["T"], atol=1e-12)


def test_daily_collapse_reproduces_shipped_summary(
    ref_summary: pd.DataFrame, shipped: pd.DataFrame
) -> None:
    ref = ref_summary.reindex(shipped.index)
    np.testing.assert_array_equal(ref["x"].to_numpy(), shipped["x"].to_numpy())
    # shipped file is rounded to 2 decimals (round-half either way)
    np.testing.assert_allclose(ref["t_x"], shipped["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(ref["T"], shipped["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(ref["zbar"], shipped["zbar"], atol=0.005 + 1e-9)
    assert int((shipped["x"] > 0).sum()) == 946


def test_counting_every_row_does_not_reproduce(transactions: pd.DataFrame,
                                               shipped: pd.DataFrame) -> None:
    rows = reference_summary(transactions, collapse_days=False).reindex(shipped.index)
    assert rows["x"].sum() > shipped["x"].sum()  # 2603 vs 2457 repeat purchases


# --------------------------------------------------------------------------- #
# BG/NBD on CDNOW
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("source", ["shipped", "raw"])
def test_bgnbd_reproduces_published_params(
    source: str, shipped: pd.DataFrame, ref_summary: pd.DataFrame
) -> None:
    df = shipped if source == "shipped" else ref_summary
    bgf = BetaGeoFitter().fit(df["x"], df["t_x"], df["T"])
    assert bgf.converged_
    assert bgf.n_ == 2357
    for k, v in PUB_BG.items():
        assert sig3(bgf.params_[k]) == sig3(v), (k, bgf.params_[k], v)
        assert bgf.params_[k] == pytest.approx(v, rel=2e-3)
    assert round(bgf.log_likelihood_, 1) == PUB_BG_LL


def test_bgnbd_loglik_at_published_params(shipped: pd.DataFrame,
                                          published_bg: BetaGeoFitter) -> None:
    ll = published_bg.log_likelihood(shipped["x"], shipped["t_x"], shipped["T"])
    assert round(ll, 1) == PUB_BG_LL
    fitted = BetaGeoFitter().fit(shipped["x"], shipped["t_x"], shipped["T"])
    assert fitted.log_likelihood_ >= ll  # the MLE is at least as good


def test_bgnbd_loglik_by_hand_single_customer(published_bg: BetaGeoFitter) -> None:
    r, alpha, a, b = PUB_BG.values()
    x, t_x, T = 2, 30.43, 38.86
    beta = lambda p, q: math.gamma(p) * math.gamma(q) / math.gamma(p + q)  # noqa: E731
    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    lik = (beta(a, b + x) / beta(a, b) * common / (alpha + T) ** (r + x)
           + beta(a + 1, b + x - 1) / beta(a, b) * common / (alpha + t_x) ** (r + x))
    assert published_bg.log_likelihood([x], [t_x], [T]) == pytest.approx(math.log(lik), rel=1e-12)
    # x == 0: only the first term, Gamma(r)/Gamma(r) * B(a,b)/B(a,b) * alpha^r/(alpha+T)^r
    lik0 = (alpha / (alpha + T)) ** r
    assert published_bg.log_likelihood([0], [0], [T]) == pytest.approx(math.log(lik0), rel=1e-12)


def _hyp2f1_series(A: float, B: float, C: float, z: float) -> float:
    """Gauss series sum_k (A)_k (B)_k / ((C)_k k!) z^k, |z| < 1, by hand."""
    term, total, k = 1.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total):
        term *= (A + k) * (B + k) / ((C + k) * (k + 1)) * z
        total += term
        k += 1
        assert k < 10_000
    return total


def test_conditional_expectation_and_p_alive_by_hand(published_bg: BetaGeoFitter) -> None:
    r, alpha, a, b = PUB_BG.values()
    x, t_x, T, t = 2, 30.43, 38.86, 39.0

    # step 1: P(alive) = 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))
    odds_dead = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    p_alive = 1.0 / (1.0 + odds_dead)
    # step 2: Gauss hypergeometric 2F1(r+x, b+x; a+b+x-1; z), z = t/(alpha+T+t)
    z = t / (alpha + T + t)
    f21 = _hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    assert f21 == pytest.approx(float(hyp2f1(r + x, b + x, a + b + x - 1, z)), rel=1e-12)
    # step 3: eq. (10)
    bracket = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * f21
    expected = (a + b + x - 1) / (a - 1) * bracket * p_alive

    assert round(expected, 3) == 1.226  # FHL 2005 report 1.226
    got = published_bg.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
    assert got[0] == pytest.approx(expected, rel=1e-10)
    got_alive = published_bg.conditional_probability_alive(x, t_x, T)
    assert got_alive[0] == pytest.approx(p_alive, rel=1e-12)
    assert 0 < p_alive < 1


def test_predictions_frequency_zero_and_shapes(published_bg: BetaGeoFitter) -> None:
    f = np.array([0, 0, 1, 5])
    rec = np.array([0.0, 0.0, 10.0, 20.0])
    T = np.array([10.0, 38.86, 38.86, 38.86])
    pa = published_bg.conditional_probability_alive(f, rec, T)
    assert pa.shape == (4,)
    assert pa[0] == 1.0 and pa[1] == 1.0
    assert np.all((pa[2:] > 0) & (pa[2:] < 1))
    e = published_bg.conditional_expected_number_of_purchases_up_to_time(10.0, f, rec, T)
    assert e.shape == (4,) and np.all(e > 0)
    # per-customer horizons broadcast
    e2 = published_bg.conditional_expected_number_of_purchases_up_to_time(
        np.array([10.0, 10.0, 10.0, 10.0]), f, rec, T)
    np.testing.assert_allclose(e, e2, rtol=1e-14)
    # t = 0 gives 0, and the expectation increases with t
    assert np.all(published_bg.conditional_expected_number_of_purchases_up_to_time(0, f, rec, T) == 0)
    ts = np.linspace(0, 500, 50)
    seq = published_bg.conditional_expected_number_of_purchases_up_to_time(ts, 5, 20.0, 38.86)
    assert np.all(np.diff(seq) > 0)


def test_heavy_buyers_and_a_near_one_are_finite() -> None:
    bgf = BetaGeoFitter.from_params(0.5, 3.0, 0.8, 3.0)
    e = bgf.conditional_expected_number_of_purchases_up_to_time(
        52.0, [5000, 20000], [2000.0, 5000.0], [2000.0, 5000.0])
    assert np.all(np.isfinite(e)) and np.all(e > 0)
    # a -> 1 is a removable singularity of eq. (10): values are continuous there
    vals = [
        BetaGeoFitter.from_params(0.243, 4.414, a, 2.426)
        .conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)[0]
        for a in (1 - 1e-3, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-3)
    ]
    assert np.all(np.isfinite(vals))
    assert vals[1] == pytest.approx(vals[2], rel=1e-7)
    assert vals[2] == pytest.approx(vals[3], rel=1e-7)
    assert vals[0] == pytest.approx(vals[4], rel=1e-2)


def test_weights_path_equals_unweighted(shipped: pd.DataFrame) -> None:
    full = BetaGeoFitter().fit(shipped["x"], shipped["t_x"], shipped["T"])
    uniq = shipped.groupby(["x", "t_x", "T"]).size().rename("n").reset_index()
    assert len(uniq) < len(shipped)
    comp = BetaGeoFitter().fit(uniq["x"], uniq["t_x"], uniq["T"], weights=uniq["n"])
    for k in PUB_BG:
        assert comp.params_[k] == pytest.approx(full.params_[k], rel=1e-5)
    assert comp.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-10)
    assert comp.n_ == full.n_ == 2357


def test_bgnbd_gradient_matches_finite_differences(shipped: pd.DataFrame) -> None:
    x = shipped["x"].to_numpy(float)
    t_x = shipped["t_x"].to_numpy()
    T = shipped["T"].to_numpy()
    w = np.ones_like(x)
    ux, wx = BetaGeoFitter._group_x(x, w)

    def f(p: np.ndarray) -> float:
        return BetaGeoFitter._loglik_and_grad(p, x, t_x, T, w, ux, wx)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return BetaGeoFitter._loglik_and_grad(p, x, t_x, T, w, ux, wx)[1]

    p0 = np.array([0.3, 5.0, 0.7, 2.0])
    assert check_grad(f, g, p0, epsilon=1e-7) / np.linalg.norm(g(p0)) < 1e-5


def test_penalizer_shrinks_params(shipped: pd.DataFrame) -> None:
    plain = BetaGeoFitter().fit(shipped["x"], shipped["t_x"], shipped["T"])
    pen = BetaGeoFitter(penalizer_coef=0.1).fit(shipped["x"], shipped["t_x"], shipped["T"])
    assert sum(v**2 for v in pen.params_.values()) < sum(v**2 for v in plain.params_.values())


# --------------------------------------------------------------------------- #
# BG/NBD input validation
# --------------------------------------------------------------------------- #
def test_bgnbd_all_zero_input_raises() -> None:
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        BetaGeoFitter().fit([0, 0, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        BetaGeoFitter().fit([0, 0], [0.0, 0.0], [10.0, 20.0])
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        BetaGeoFitter().fit([0, 3], [0.0, 5.0], [10.0, 20.0], weights=[1, 0])


@pytest.mark.parametrize(
    "f, r, T, msg",
    [
        ([-1, 2], [0.0, 3.0], [5.0, 5.0], "non-negative integers"),
        ([1.5, 2], [1.0, 3.0], [5.0, 5.0], "non-negative integers"),
        ([1, 2], [6.0, 3.0], [5.0, 5.0], "must not exceed T"),
        ([0, 2], [1.0, 3.0], [5.0, 5.0], "recency must be 0"),
        ([1, 2], [np.nan, 3.0], [5.0, 5.0], "NaN"),
        ([1, 2, 3], [1.0, 3.0], [5.0, 5.0], "same length"),
    ],
)
def test_bgnbd_bad_input(f: list, r: list, T: list, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        BetaGeoFitter().fit(f, r, T)


def test_bgnbd_bad_weights() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        BetaGeoFitter().fit([1, 2], [1.0, 2.0], [3.0, 3.0], weights=[1, -1])
    with pytest.raises(ValueError, match="length"):
        BetaGeoFitter().fit([1, 2], [1.0, 2.0], [3.0, 3.0], weights=[1])


def test_unfitted_raises() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoFitter().conditional_probability_alive([1], [1.0], [2.0])
    with pytest.raises(RuntimeError, match="not fitted"):
        GammaGammaFitter().conditional_expected_average_profit([1], [1.0])


# --------------------------------------------------------------------------- #
# Gamma-Gamma
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("source", ["shipped", "raw"])
def test_gamma_gamma_reproduces_published_params(
    source: str, shipped: pd.DataFrame, ref_summary: pd.DataFrame
) -> None:
    df = shipped if source == "shipped" else ref_summary
    ggf = GammaGammaFitter().fit(df["x"], df["zbar"])
    assert ggf.converged_
    assert ggf.n_ == 946
    assert ggf.n_excluded_ == {"frequency_zero": 1411, "monetary_nonpositive": 0}
    for k, v in PUB_GG.items():
        assert sig3(ggf.params_[k]) == sig3(v), (k, ggf.params_[k], v)
        assert ggf.params_[k] == pytest.approx(v, rel=3e-3)
    assert ggf.params_["gamma"] == ggf.params_["v"]
    pub = GammaGammaFitter.from_params(**PUB_GG)
    assert ggf.log_likelihood_ >= pub.log_likelihood(df["x"], df["zbar"])
    assert ggf.log_likelihood_ == pytest.approx(-4055.9, abs=0.1)


def test_gamma_gamma_loglik_by_hand() -> None:
    p, q, v = PUB_GG.values()
    x, z = 2.0, 22.35
    by_hand = (math.lgamma(p * x + q) - math.lgamma(p * x) - math.lgamma(q) + q * math.log(v)
               + (p * x - 1) * math.log(z) + p * x * math.log(x)
               - (p * x + q) * math.log(v + x * z))
    ggf = GammaGammaFitter.from_params(p, q, v)
    assert ggf.log_likelihood([x], [z]) == pytest.approx(by_hand, rel=1e-12)


def test_gamma_gamma_gradient_matches_finite_differences(shipped: pd.DataFrame) -> None:
    keep = shipped["x"] > 0
    x = shipped.loc[keep, "x"].to_numpy(float)
    m = shipped.loc[keep, "zbar"].to_numpy()
    w = np.ones_like(x)

    def f(p: np.ndarray) -> float:
        return GammaGammaFitter._loglik_and_grad(p, x, m, w)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return GammaGammaFitter._loglik_and_grad(p, x, m, w)[1]

    p0 = np.array([5.0, 3.0, 12.0])
    assert check_grad(f, g, p0, epsilon=1e-6) / np.linalg.norm(g(p0)) < 1e-5


def test_gamma_gamma_exclusions_and_stated_rule(shipped: pd.DataFrame) -> None:
    x = np.concatenate([shipped["x"].to_numpy(float), [3.0, 2.0, 0.0]])
    m = np.concatenate([shipped["zbar"].to_numpy(), [0.0, -5.0, 10.0]])
    ggf = GammaGammaFitter().fit(x, m)
    assert ggf.n_ == 946
    assert ggf.n_excluded_ == {"frequency_zero": 1412, "monetary_nonpositive": 2}
    base = GammaGammaFitter().fit(shipped["x"], shipped["zbar"])
    for k in PUB_GG:
        assert ggf.params_[k] == pytest.approx(base.params_[k], rel=1e-8)

    p, q, v = ggf.params_["p"], ggf.params_["q"], ggf.params_["v"]
    pop = p * v / (q - 1)
    out = ggf.conditional_expected_average_profit([0, 3, 2, 0, 2], [0.0, 0.0, -5.0, 50.0, 22.35])
    np.testing.assert_allclose(out[:4], pop, rtol=1e-14)
    # x > 0, zbar > 0: (p v + p x zbar) / (p x + q - 1)
    assert out[4] == pytest.approx((p * v + p * 2 * 22.35) / (p * 2 + q - 1), rel=1e-12)


def test_gamma_gamma_weights_and_errors(shipped: pd.DataFrame) -> None:
    keep = shipped["x"] > 0
    sub = shipped[keep]
    uniq = sub.groupby(["x", "zbar"]).size().rename("n").reset_index()
    full = GammaGammaFitter().fit(sub["x"], sub["zbar"])
    comp = GammaGammaFitter().fit(uniq["x"], uniq["zbar"], weights=uniq["n"])
    for k in PUB_GG:
        assert comp.params_[k] == pytest.approx(full.params_[k], rel=1e-5)
    assert comp.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-10)

    with pytest.raises(ValueError, match="frequency > 0 and monetary_value > 0"):
        GammaGammaFitter().fit([0, 0, 0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="frequency > 0 and monetary_value > 0"):
        GammaGammaFitter().fit([1, 2], [0.0, -1.0])
    with pytest.raises(ValueError, match="NaN"):
        GammaGammaFitter().fit([1, 2], [np.nan, 3.0])
    # q <= 1: the population mean is infinite; a repeat buyer keeps the finite
    # conditional form, a customer without repeat spend gets NaN (no exception)
    heavy = GammaGammaFitter.from_params(2.0, 0.9, 10.0)
    got = heavy.conditional_expected_average_profit([1, 0], [5.0, 0.0])
    assert got[0] == pytest.approx((2.0 * 10.0 + 2.0 * 1 * 5.0) / (2.0 * 1 + 0.9 - 1.0))
    assert np.isnan(got[1])


# --------------------------------------------------------------------------- #
# CLV
# --------------------------------------------------------------------------- #
def test_clv_matches_hand_loop(published_bg: BetaGeoFitter) -> None:
    ggf = GammaGammaFitter.from_params(**PUB_GG)
    f = np.array([2, 0, 5, 1])
    rec = np.array([30.43, 0.0, 35.0, 1.71])
    T = np.array([38.86, 38.86, 38.0, 38.86])
    m = np.array([22.35, 0.0, 40.0, -3.0])
    clv = customer_lifetime_value(published_bg, ggf, f, rec, T, m,
                                  horizon_months=12, monthly_discount_rate=0.01,
                                  time_unit="week")
    p, q, v = PUB_GG.values()
    for i in range(4):
        spend = (p * v / (q - 1) if (f[i] == 0 or m[i] <= 0)
                 else (p * v + p * f[i] * m[i]) / (p * f[i] + q - 1))
        total, prev = 0.0, 0.0
        for month in range(1, 13):
            cum = published_bg.conditional_expected_number_of_purchases_up_to_time(
                month * 30 / 7, f[i], rec[i], T[i])[0]
            total += (cum - prev) * spend / 1.01**month
            prev = cum
        assert clv[i] == pytest.approx(total, rel=1e-12)
    assert np.all(clv > 0)


def test_clv_month_mapping_day_vs_week(published_bg: BetaGeoFitter) -> None:
    """Time rescaling: (r, alpha, a, b) in weeks == (r, 7 alpha, a, b) in days."""
    ggf = GammaGammaFitter.from_params(**PUB_GG)
    r, alpha, a, b = PUB_BG.values()
    bg_days = BetaGeoFitter.from_params(r, 7 * alpha, a, b)
    f = np.array([2, 0, 5])
    rec = np.array([30.0, 0.0, 35.0])
    T = np.array([38.0, 38.0, 38.0])
    m = np.array([22.35, 0.0, 40.0])
    weeks = customer_lifetime_value(published_bg, ggf, f, rec, T, m, time_unit="week")
    days = customer_lifetime_value(bg_days, ggf, f, rec * 7, T * 7, m, time_unit="day")
    np.testing.assert_allclose(weeks, days, rtol=1e-10)
    # no discount: CLV = E[X(12 months)] * expected spend
    flat = customer_lifetime_value(published_bg, ggf, f, rec, T, m, monthly_discount_rate=0.0)
    cum = published_bg.conditional_expected_number_of_purchases_up_to_time(12 * 30 / 7, f, rec, T)
    np.testing.assert_allclose(flat, cum * ggf.conditional_expected_average_profit(f, m), rtol=1e-10)
    assert np.all(customer_lifetime_value(published_bg, ggf, f, rec, T, m, horizon_months=0) == 0)
    with pytest.raises(ValueError, match="time_unit"):
        customer_lifetime_value(published_bg, ggf, f, rec, T, m, time_unit="month")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# 1M synthetic customers (timing is reported, not asserted)
# --------------------------------------------------------------------------- #
def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) from the BG/NBD generative process, vectorised.

    lambda ~ Gamma(r, rate alpha); p ~ Beta(a, b); T ~ U{1..52} weeks.  The
    customer dies right after the K-th repeat purchase, K ~ Geometric(p) on
    {1, 2, ...}; repeat purchases arrive as a Poisson(lambda) process, N of
    them in (0, T].  Observed x = min(N, K); given N arrivals in (0, T] the
    x-th arrival time is T times the x-th of N uniform order statistics,
    i.e. T * Beta(x, N - x + 1).
    """
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.integers(1, 53, n).astype(float)
    N = rng.poisson(lam * T)
    K = rng.geometric(p)
    x = np.minimum(N, K)
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = T[has] * rng.beta(x[has], N[has] - x[has] + 1)
    return x.astype(float), t_x, T


def test_simulation_recovers_params_and_timing_1m(capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(20050101)
    n = 1_000_000
    x, t_x, T = simulate_bgnbd(n, **PUB_BG, rng=rng)

    t0 = time.perf_counter()
    bgf = BetaGeoFitter().fit(x, t_x, T)
    fit_s = time.perf_counter() - t0
    assert bgf.converged_
    for k, v in PUB_BG.items():
        assert bgf.params_[k] == pytest.approx(v, rel=0.03), (k, bgf.params_[k])

    # weights path: recency rounded to whole days, unique rows + counts
    t0 = time.perf_counter()
    df = pd.DataFrame({"x": x, "t_x": np.round(t_x * 7) / 7, "T": T})
    uniq = df.value_counts().rename("n").reset_index()
    bgw = BetaGeoFitter().fit(uniq["x"], uniq["t_x"], uniq["T"], weights=uniq["n"])
    weighted_s = time.perf_counter() - t0
    for k, _v in PUB_BG.items():
        assert bgw.params_[k] == pytest.approx(bgf.params_[k], rel=0.01)

    # Gamma-Gamma: nu ~ Gamma(q, rate v); zbar | x ~ Gamma(p x, rate nu x)
    p, q, v = PUB_GG.values()
    nu = rng.gamma(q, 1.0 / v, n)
    has = x > 0
    zbar = np.zeros(n)
    zbar[has] = rng.gamma(p * x[has], 1.0 / (nu[has] * x[has]))
    t0 = time.perf_counter()
    ggf = GammaGammaFitter().fit(x, zbar)
    gg_s = time.perf_counter() - t0
    for k, val in PUB_GG.items():
        assert ggf.params_[k] == pytest.approx(val, rel=0.05), (k, ggf.params_[k])

    with capsys.disabled():
        print(
            f"\n[btyd timing] BG/NBD fit on {n:,} customers: {fit_s:.2f} s "
            f"(params {', '.join(f'{k}={val:.4f}' for k, val in bgf.params_.items())}); "
            f"weighted fit on {len(uniq):,} unique rows incl. grouping: {weighted_s:.2f} s; "
            f"Gamma-Gamma fit on {int(has.sum()):,} repeat buyers: {gg_s:.2f} s"
        )


def test_customer_lifetime_value_has_no_default_copy_of_a_setting():
    """Every setting customer_lifetime_value takes comes from run_settings via dbt_steps (its one
    default is in dbt_project.yml): none has a default in Python."""
    import inspect

    params = inspect.signature(_customer_lifetime_value).parameters
    assert [n for n in ['horizon_months', 'monthly_discount_rate', 'time_unit', 'days_per_month']
            if params[n].default is not inspect.Parameter.empty] == []
