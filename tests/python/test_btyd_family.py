"""Pareto/NBD and MBG/NBD beside BG/NBD (issue 13): the fitters against the
published CDNOW estimates and closed forms written out here independently, then
the same estimates through `dbt build` on the CDNOW dataset."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln, gammaln, hyp2f1

from dbt_harness import PROJECT_DIR, run_dbt
from segkit.btyd_family import BGNBDModel, ModifiedBetaGeoFitter, ParetoNBDFitter

PARTIAL = ["--indirect-selection", "cautious"]
# Fader, Hardie & Lee, "A note on deriving the Pareto/NBD model" (CDNOW, 39 weeks)
PARETO_PUBLISHED = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}
PARETO_PUBLISHED_LL = -9594.98
# BTYDplus on CDNOW, as lifetimes pins it (test_params_out_is_close_to_BTYDplus)
MBG_BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def _cdnow_summary() -> pd.DataFrame:
    """(x, t_x, T) in weeks at 1997-09-30 from the raw CDNOW file, computed here:
    one purchase per customer per day, durations in days / 7."""
    with open(PROJECT_DIR / "tests" / "data" / "cdnow" / "CDNOW_sample.txt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    tx = pd.DataFrame({"id": [r[0] for r in rows], "date": pd.to_datetime([r[2] for r in rows], format="%Y%m%d")})
    tx = tx[tx["date"] <= "1997-09-30"].drop_duplicates()
    g = tx.groupby("id")["date"]
    first, last, n = g.min(), g.max(), g.nunique()
    end = pd.Timestamp("1997-09-30")
    return pd.DataFrame({"x": n - 1, "t_x": (last - first).dt.days / 7, "T": (end - first).dt.days / 7})


@pytest.fixture(scope="module")
def cdnow_grouped():
    s = _cdnow_summary()
    assert len(s) == 2357
    return s.groupby(["x", "t_x", "T"]).size().reset_index(name="n")


# -- the fitters, in Python --------------------------------------------------

def test_pareto_nbd_reproduces_the_published_cdnow_estimates(cdnow_grouped):
    g = cdnow_grouped
    m = ParetoNBDFitter().fit(g["x"], g["t_x"], g["T"], weights=g["n"])
    p = m.params_
    assert abs(p["r"] - PARETO_PUBLISHED["r"]) < 5e-4
    assert abs(p["alpha"] - PARETO_PUBLISHED["alpha"]) < 5e-3
    assert abs(p["s"] - PARETO_PUBLISHED["s"]) < 1e-3
    # the likelihood is flat in beta: 4 significant figures
    assert abs(p["beta"] / PARETO_PUBLISHED["beta"] - 1) < 5e-4
    assert abs(m.log_likelihood_ - PARETO_PUBLISHED_LL) < 0.02
    assert m.converged_


def test_mbg_nbd_reproduces_btydplus_on_cdnow(cdnow_grouped):
    g = cdnow_grouped
    m = ModifiedBetaGeoFitter().fit(g["x"], g["t_x"], g["T"], weights=g["n"])
    for k, v in MBG_BTYDPLUS.items():
        assert abs(m.params_[k] - v) < 1.5e-3, (k, m.params_[k], v)


def _pareto_ll_direct(params, x, t_x, T):
    """Note 009 eq. (22)-(23) written directly (no Euler transformation, no log space)."""
    r, alpha, s, beta = params
    def F(t):
        if alpha >= beta:
            return hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + t)) / (alpha + t) ** (r + s + x)
        return hyp2f1(r + s + x, r + x, r + s + x + 1, (beta - alpha) / (beta + t)) / (beta + t) ** (r + s + x)
    a0 = F(t_x) - F(T)
    like = math.exp(gammaln(r + x) - gammaln(r)) * alpha ** r * beta ** s * (
        1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / (r + s + x) * a0)
    return math.log(like)


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 11.67, 0.61, 10.58), (1.2, 3.0, 2.5, 3.0)])
def test_pareto_log_likelihood_equals_the_direct_form_for_both_orders_of_alpha_and_beta(params):
    x = np.array([0.0, 1.0, 2.0, 7.0, 15.0])
    t_x = np.array([0.0, 5.0, 30.43, 20.0, 35.0])
    T = np.array([38.86, 30.0, 38.86, 39.0, 36.0])
    ours = ParetoNBDFitter.log_likelihood_rows(np.array(params), x, t_x, T)
    direct = [_pareto_ll_direct(params, *v) for v in zip(x, t_x, T)]
    np.testing.assert_allclose(ours, direct, rtol=1e-10)


def test_pareto_log_a0_stays_finite_for_heavy_buyers():
    # lifetimes' test_overflow_error: x in the hundreds, alpha tiny
    params = np.array([10.465, 7.98565181e-03, 3.0516, 2.820])
    la0 = ParetoNBDFitter._log_A0(params, np.array([400.0, 500.0, 500.0]), np.array([5.0, 1.0, 4.0]),
                                  np.array([6.0, 37.0, 37.0]))
    assert np.all(np.isfinite(la0)) and np.all(la0 < 0)


def _2f1_by_fsum(b: float, c: float, z: float) -> float:
    """2F1(1, b; c; z) term by term in Python floats, summed exactly (math.fsum)."""
    terms, term, j = [1.0], 1.0, 0
    while term > 1e-20 * terms[0] and j < 100_000:
        term *= z * (b + j) / (c + j)
        terms.append(term)
        j += 1
    return math.fsum(terms)


def test_pareto_2f1_series_equals_an_independent_sum_whatever_the_terms_it_needs():
    # the direct sum (b >= SERIES_B) tries 32 terms on every row, then sums the rest again in
    # 256-term blocks: rows that stop within 32 terms (z 0.05, 0.19), in the first block (0.5),
    # and after about 370 and 760 terms (0.9, 0.95)
    from segkit.btyd_family import SERIES_B, _series_2f1_1bc

    b = np.array([50.0, 60.0, 75.0, 120.0, 600.0, 3000.0])
    c = b + np.array([1.7, 1.2, 3.0, 2.5, 1.7, 1.1])
    z = np.array([0.05, 0.5, 0.19, 0.9, 0.95, 0.9])
    assert b.min() >= SERIES_B
    got = _series_2f1_1bc(b, c, z)
    want = np.array([_2f1_by_fsum(*v) for v in zip(b, c, z)])
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # and scipy's hyp2f1 where it converges (moderate b and z)
    np.testing.assert_allclose(got[:4], hyp2f1(1.0, b[:4], c[:4], z[:4]), rtol=1e-12)


def test_pareto_2f1_series_first_terms_give_the_full_block_sum_to_the_bit():
    # a row that stops within the first 32 terms gets the value the 256-term blocks give, so a
    # fit follows the same path (a Pareto/NBD fit that wanders towards infinite s and beta, as on
    # the demo at a past as-of date, is chaotic: one bit sent it on a path of many minutes)
    from segkit.btyd_family import _series_2f1_1bc, _series_2f1_1bc_blocks

    rng = np.random.default_rng(7)
    n = 20_000
    b = 50.0 * np.exp(rng.uniform(0.0, 9.0, n))
    c = b + rng.uniform(0.05, 6.0, n)
    z = rng.uniform(0.0, 0.35, n)
    np.testing.assert_array_equal(_series_2f1_1bc(b, c, z), _series_2f1_1bc_blocks(b, c, z))


def test_pareto_conditional_quantities_equal_the_closed_forms():
    r, alpha, s, beta = 0.5533, 10.5776, 0.6061, 11.6650
    m = ParetoNBDFitter.from_params(r=r, alpha=alpha, s=s, beta=beta)
    x, t_x, T, t = 2.0, 30.43, 38.86, 39.0
    a0 = (hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + t_x)) / (alpha + t_x) ** (r + s + x)
          - hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + T)) / (alpha + T) ** (r + s + x))
    p_alive = 1 / (1 + s / (r + s + x) * (alpha + T) ** (r + x) * (beta + T) ** s * a0)
    assert m.conditional_probability_alive(x, t_x, T)[0] == pytest.approx(p_alive, rel=1e-10)
    e = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) * p_alive
    assert m.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)[0] == pytest.approx(e, rel=1e-10)
    e0 = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    assert m.expected_number_of_purchases_up_to_time(t)[0] == pytest.approx(e0, rel=1e-12)


def test_mbg_nbd_expected_purchases_match_hardies_sheet():
    # lifetimes' test_expectation_returns_same_value_Hardie_excel_sheet (rtol 5%)
    m = ModifiedBetaGeoFitter.from_params(**MBG_BTYDPLUS)
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(m.expected_number_of_purchases_up_to_time(times), expected, rtol=0.05)


def test_mbg_nbd_conditional_quantities_equal_the_closed_forms():
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
    m = ModifiedBetaGeoFitter.from_params(r=r, alpha=alpha, a=a, b=b)
    for x, t_x, T, t in [(0.0, 0.0, 38.86, 39.0), (2.0, 30.43, 38.86, 39.0), (9.0, 36.0, 38.0, 52.0)]:
        p_alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
        assert m.conditional_probability_alive(x, t_x, T)[0] == pytest.approx(p_alive, rel=1e-12)
        e = ((a + b + x) / (a - 1) * (1 - hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
                                      * ((alpha + T) / (alpha + t + T)) ** (r + x)) * p_alive)
        assert m.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)[0] == pytest.approx(e, rel=1e-9)
    # a one-time buyer is not certainly alive under MBG/NBD (BG/NBD says 1)
    assert m.conditional_probability_alive(0, 0, 38.86)[0] < 1
    assert BGNBDModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426).conditional_probability_alive(0, 0, 38.86)[0] == 1


@pytest.mark.parametrize("model", [
    BGNBDModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    ModifiedBetaGeoFitter.from_params(**MBG_BTYDPLUS),
    ParetoNBDFitter.from_params(**PARETO_PUBLISHED),
    ParetoNBDFitter.from_params(r=0.5533, alpha=11.665, s=0.6061, beta=10.5776),  # alpha >= beta branch
])
def test_period_pmf_is_a_distribution_whose_mean_is_the_expected_purchases(model):
    t = np.array([5.0, 39.0, 78.0])
    pmf = np.array([model.probability_of_n_purchases_up_to_time(t, n) for n in range(250)])
    assert np.all(pmf > -1e-12)
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose((np.arange(250)[:, None] * pmf).sum(axis=0),
                               model.expected_number_of_purchases_up_to_time(t), rtol=1e-5)


def test_bgnbd_pmf_equals_r_btyd():
    # R BTYD's bgnbd.pmf (lifetimes' test_probability_of_n_purchases_up_to_time_same_as_R_BTYD)
    m = BGNBDModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert abs(m.probability_of_n_purchases_up_to_time(2, 10)[0] - 1.07869e-07) < 1e-10


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 11.67, 0.61, 10.58), (1.2, 3.0, 2.5, 3.0)])
def test_pareto_grouped_likelihood_and_gradient_equal_the_direct_form(params):
    """The fit's likelihood on distinct (x, t) pairs and its (semi-)analytic gradient
    against the direct note 009 form summed row by row and its central differences."""
    x = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 7.0, 15.0, 3.0])
    t_x = np.array([0.0, 5.0, 5.0, 30.43, 20.0, 20.0, 35.0, 36.0])
    T = np.array([38.86, 30.0, 38.86, 38.86, 38.86, 39.0, 36.0, 36.0])
    w = np.array([40.0, 3.0, 2.0, 1.0, 5.0, 1.0, 2.0, 1.0])

    def total(th):
        return sum(wi * _pareto_ll_direct(th, *v) for wi, v in zip(w, zip(x, t_x, T)))

    groups = ParetoNBDFitter._groups(x, t_x, T, w)
    ll, grad = ParetoNBDFitter.loglik_and_grad(np.array(params), x, t_x, T, w, groups)
    assert ll == pytest.approx(total(params), rel=1e-10)
    fd = []
    for i in range(4):
        h = 1e-6 * params[i]
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        fd.append((total(up) - total(down)) / (2 * h))
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * max(abs(v) for v in fd))


def _simulated_pareto_rows(n_customers, seed):
    """Unique (x, t_x, T) rows with counts from the Pareto/NBD story (gamma purchase
    and dropout rates, Poisson purchases until dropout), durations in days / 7."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.8, 1 / 8.0, n_customers)
    tau = rng.exponential(1 / rng.gamma(0.6, 1 / 12.0, n_customers))
    T = rng.integers(0, 366, n_customers) / 7.0
    alive = np.minimum(tau, T)
    x = rng.poisson(lam * alive)
    t_x = np.where(x > 0, np.floor(alive * rng.beta(np.maximum(x, 1), 1.0) * 7.0) / 7.0, 0.0)
    frame = pd.DataFrame({"x": x.astype(float), "t_x": t_x, "T": T})
    return frame.groupby(["x", "t_x", "T"]).size().reset_index(name="n")


def test_pareto_fit_evaluates_the_2f1_once_per_distinct_x_and_t(monkeypatch):
    """At 1M customers there are 5x fewer distinct (x, t) pairs than rows: every
    2F1 evaluation of the fit is on the distinct pairs, not on every row."""
    import segkit.btyd_family as bf

    g = _simulated_pareto_rows(20_000, seed=1)
    x, t_x, T = (g[c].to_numpy(float) for c in ("x", "t_x", "T"))
    n_pairs = len(set(zip(x, t_x)) | set(zip(x, T)))
    assert n_pairs < len(g) / 2
    sizes = []
    real = bf.hyp2f1

    def counting(a, b, c, z):
        sizes.append(np.size(z))
        return real(a, b, c, z)

    monkeypatch.setattr(bf, "hyp2f1", counting)
    m = ParetoNBDFitter().fit(g["x"], g["t_x"], g["T"], weights=g["n"])
    monkeypatch.setattr(bf, "hyp2f1", real)
    assert m.converged_
    # the fit itself (not the final per-row log-likelihood: 2 calls on all rows)
    fit_sizes = sorted(sizes)[:-2]
    assert len(fit_sizes) > 50 and max(fit_sizes) <= n_pairs, (max(fit_sizes), n_pairs, len(g))


def test_pareto_warm_start_keeps_the_full_data_estimate_and_is_deterministic():
    """Above warm_start_rows the fit starts from a subsample's optimum: the estimate
    is still the full-data MLE (the same as a cold start, to the optimiser's
    tolerance, and a stationary point of the full likelihood), and two fits give
    the same bits."""
    g = _simulated_pareto_rows(150_000, seed=2)
    assert len(g) > ParetoNBDFitter.warm_start_rows
    args = (g["x"], g["t_x"], g["T"])
    warm = ParetoNBDFitter().fit(*args, weights=g["n"])
    again = ParetoNBDFitter().fit(*args, weights=g["n"])
    cold_fitter = ParetoNBDFitter()
    cold_fitter.warm_start_rows = None
    cold = cold_fitter.fit(*args, weights=g["n"])
    assert warm.converged_ and cold.converged_
    assert warm.params_ == again.params_ and warm.std_errors_ == again.std_errors_
    for k in ParetoNBDFitter.param_names:
        assert warm.params_[k] == pytest.approx(cold.params_[k], rel=1e-4), k
        assert warm.std_errors_[k] == pytest.approx(cold.std_errors_[k], rel=1e-3), k
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, abs=1e-3)
    # a subsample's optimum would not be stationary on the full data
    x, t_x, T, w = (g[c].to_numpy(float) for c in ("x", "t_x", "T", "n"))
    th = np.array([warm.params_[k] for k in ParetoNBDFitter.param_names])
    _, grad = ParetoNBDFitter.loglik_and_grad(th, x, t_x, T, w, ParetoNBDFitter._groups(x, t_x, T, w))
    assert np.max(np.abs(grad * th)) / w.sum() < 1e-5


def test_standard_errors_are_the_inverse_hessian_of_an_independent_likelihood(cdnow_grouped):
    """The MBG/NBD likelihood written here from Batislam et al. (2007), its Hessian by
    a different finite-difference scheme (forward differences of a central gradient)."""
    g = cdnow_grouped
    m = ModifiedBetaGeoFitter().fit(g["x"], g["t_x"], g["T"], weights=g["n"])
    x, t_x, T, w = (g[c].to_numpy(float) for c in ("x", "t_x", "T", "n"))

    def nll(th):
        r, alpha, a, b = th
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1) - betaln(a, b)
              - (r + x) * np.log(alpha + T)
              + np.log1p(a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x)))
        return -float(w @ ll)

    th = np.array([m.params_[k] for k in ("r", "alpha", "a", "b")])

    def grad(v):
        out = np.empty(4)
        for i in range(4):
            h = 1e-5 * v[i]
            e = np.zeros(4)
            e[i] = h
            out[i] = (nll(v + e) - nll(v - e)) / (2 * h)
        return out

    H = np.empty((4, 4))
    for j in range(4):
        h = 1e-4 * th[j]
        e = np.zeros(4)
        e[j] = h
        H[:, j] = (grad(th + e) - grad(th - e)) / (2 * h)
    se = np.sqrt(np.diag(np.linalg.inv((H + H.T) / 2)))
    np.testing.assert_allclose([m.std_errors_[k] for k in ("r", "alpha", "a", "b")], se, rtol=2e-3)
    assert m.aic_ == pytest.approx(8 - 2 * m.log_likelihood_)
    assert m.bic_ == pytest.approx(4 * math.log(2357) - 2 * m.log_likelihood_)


# -- through dbt build: the CDNOW dataset ------------------------------------

@pytest.fixture(scope="module")
def cdnow_params(dataset_build):
    return dataset_build("cdnow")  # the session's default build of cdnow (conftest.py)


def test_dbt_build_fits_pareto_and_mbg_nbd_on_cdnow(cdnow_params):
    rows = cdnow_params.query("select model, parameter, value, std_error, log_likelihood, aic, bic, n_parameters, "
                              "n_customers from clv_forecast_parameters where model in ('pareto_nbd', 'mbg_nbd')")
    by = {(m, p): (v, se, ll, aic, bic, k, n) for m, p, v, se, ll, aic, bic, k, n in rows}
    for k, v in PARETO_PUBLISHED.items():
        got = by[("pareto_nbd", k)][0]
        assert abs(got / v - 1) < 5e-4, (k, got, v)
    for k, v in MBG_BTYDPLUS.items():
        assert abs(by[("mbg_nbd", k)][0] - v) < 1.5e-3, (k, by[("mbg_nbd", k)][0], v)
    ll = by[("pareto_nbd", "r")][2]
    assert abs(ll - PARETO_PUBLISHED_LL) < 0.02
    for (_v, se, ll, aic, bic, k, n) in by.values():
        assert n == 2357 and k == 4 and se > 0
        assert aic == pytest.approx(2 * k - 2 * ll) and bic == pytest.approx(k * math.log(n) - 2 * ll)


def test_dbt_build_keeps_the_bgnbd_and_gamma_gamma_rows(cdnow_params):
    p = {(m, k): v for m, k, v in cdnow_params.query(
        "select model, parameter, value from clv_forecast_parameters where model in ('bg_nbd', 'gamma_gamma')")}
    published = {("bg_nbd", "r"): 0.243, ("bg_nbd", "alpha"): 4.414, ("bg_nbd", "a"): 0.793, ("bg_nbd", "b"): 2.426,
                 ("gamma_gamma", "p"): 6.25, ("gamma_gamma", "q"): 3.74, ("gamma_gamma", "v"): 15.44}
    assert set(p) == set(published)
    for key, value in published.items():
        assert float(f"{p[key]:.3g}") == float(f"{value:.3g}"), key
    assert cdnow_params.scalar("select count(*) from clv_forecast_parameters where std_error is null "
                               "or aic is null or bic is null") == 0


# -- the calibration/holdout tables on CDNOW (39 + 39 weeks), through dbt build --

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


def _cdnow_days() -> pd.DataFrame:
    """Raw CDNOW: one row per customer and purchase day, up to the observation end."""
    with open(PROJECT_DIR / "tests" / "data" / "cdnow" / "CDNOW_sample.txt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    tx = pd.DataFrame({"id": [int(r[1]) for r in rows], "date": pd.to_datetime([r[2] for r in rows], format="%Y%m%d")})
    return tx[tx["date"] <= OBS_END].drop_duplicates().sort_values(["id", "date"])


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    result = run_dbt(tmp_path_factory.mktemp("btyd_family_split"),
                     vars={"dataset": "cdnow", "as_of_date": OBS_END, "clv_calibration_end": CAL_END},
                     extra=["--select", "+clv_model_comparison", "+clv_holdout_by_frequency", "+clv_repeat_tracking",
                            "+clv_period_histogram", *PARTIAL])
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def pandas_split():
    days = _cdnow_days()
    cal = days[days["date"] <= CAL_END]
    g = cal.groupby("id")["date"]
    first = g.min()
    out = pd.DataFrame({"x": g.nunique() - 1, "t_x": (g.max() - first).dt.days / 7,
                        "T": (pd.Timestamp(CAL_END) - first).dt.days / 7, "first": first})
    hold = days[days["date"] > CAL_END].groupby("id").size()
    out["x_holdout"] = hold.reindex(out.index, fill_value=0)
    return out, days


def _calibration_params(split, model):
    return {p: v for p, v in split.query(f"select parameter, value from clv_calibration_parameters where model = '{model}'")}


def _bg_expected(params, t):
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def _bg_conditional(params, t, x, t_x, T):
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    term = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return (a + b + x - 1) / (a - 1) * term / (1 + odds)


@pytest.mark.slow  # its own build and BTYD fits (module fixture split)
def test_holdout_purchases_equal_the_raw_file(split, pandas_split):
    ref, _ = pandas_split
    rows = split.query("select customer_id, frequency_cal, recency_cal, T_cal, frequency_holdout, duration_holdout "
                       "from clv_calibration_holdout")
    got = (pd.DataFrame(rows, columns=["id", "x", "t_x", "T", "x_holdout", "d"])
           .assign(id=lambda d: d["id"].astype(int)).set_index("id").sort_index())
    assert len(got) == len(ref) == 2357
    np.testing.assert_array_equal(got["x"], ref["x"])
    np.testing.assert_allclose(got["t_x"], ref["t_x"])
    np.testing.assert_allclose(got["T"], ref["T"])
    np.testing.assert_array_equal(got["x_holdout"], ref["x_holdout"])
    assert set(got["d"]) == {39.0} and int(ref["x_holdout"].sum()) == 1882  # FHL 2005: 1,882 holdout repeat purchases


@pytest.mark.slow  # its own build and BTYD fits (module fixture split)
def test_calibration_fits_reproduce_the_published_estimates(split):
    pareto = _calibration_params(split, "pareto_nbd")
    bg = _calibration_params(split, "bg_nbd")
    assert abs(pareto["r"] - 0.5533) < 5e-4 and abs(pareto["s"] - 0.6061) < 1e-3
    assert float(f"{bg['alpha']:.4g}") == 4.414 and float(f"{bg['b']:.4g}") == 2.426


@pytest.mark.slow  # its own build and BTYD fits (module fixture split)
def test_holdout_by_frequency_and_the_holdout_error(split, pandas_split):
    ref, _ = pandas_split
    bg = _calibration_params(split, "bg_nbd")
    ref = ref.assign(bucket=ref["x"].clip(upper=7),
                     pred=_bg_conditional(bg, 39.0, ref["x"].to_numpy(float), ref["t_x"].to_numpy(), ref["T"].to_numpy()))
    expected = ref.groupby("bucket").agg(n=("x", "size"), actual=("x_holdout", "mean"), pred=("pred", "mean"))
    rows = split.query("select frequency_bucket, n_customers, actual_mean_holdout_purchases, predicted_mean_holdout_purchases "
                       "from clv_holdout_by_frequency where model = 'bg_nbd' order by 1")
    assert [r[0] for r in rows] == list(range(8))
    for bucket, n, actual, pred in rows:
        assert n == expected.loc[bucket, "n"]
        assert actual == pytest.approx(expected.loc[bucket, "actual"], abs=1e-9)
        assert pred == pytest.approx(expected.loc[bucket, "pred"], rel=1e-7)
    mae = float((ref["pred"] - ref["x_holdout"]).abs().mean())
    assert split.scalar("select holdout_mae from clv_model_comparison where model = 'bg_nbd'") == pytest.approx(mae, rel=1e-7)
    # the ranking: lowest holdout error first, one rank per model
    ranked = split.query("select model, holdout_mae, holdout_rank from clv_model_comparison order by holdout_rank")
    assert [r[2] for r in ranked] == [1, 2, 3]
    assert [r[1] for r in ranked] == sorted(r[1] for r in ranked)


@pytest.mark.slow  # its own build and BTYD fits (module fixture split)
def test_weekly_tracking_equals_an_independent_computation(split, pandas_split):
    ref, days = pandas_split
    bg = _calibration_params(split, "bg_nbd")
    start = ref["first"].min()
    first_day = days.groupby("id")["date"].transform("min")
    repeat = days[(days["date"] > first_day) & days["id"].isin(ref.index)]
    week_of = ((repeat["date"] - start).dt.days // 7 + 1).value_counts().sort_index()
    births = ((ref["first"] - start).dt.days).value_counts().sort_index()
    rows = split.query("select week, actual_cumulative, expected_cumulative, actual_incremental, is_calibration "
                       "from clv_repeat_tracking where model = 'bg_nbd' order by week")
    assert len(rows) == 78
    for week, actual_cum, expected_cum, actual_inc, is_cal in rows:
        assert actual_inc == week_of.get(week, 0)
        assert actual_cum == int(week_of[week_of.index <= week].sum())
        born = births[births.index < 7 * week]
        e = float(sum(n * _bg_expected(bg, (7 * week - d) / 7) for d, n in born.items()))
        assert expected_cum == pytest.approx(e, rel=1e-9)
        assert is_cal == (week <= 39)
    assert rows[38][1] == 2457  # FHL 2005: 2,457 repeat purchases in the 39 calibration weeks


@pytest.mark.slow  # its own build and BTYD fits (module fixture split)
def test_period_histogram_equals_an_independent_computation(split, pandas_split):
    ref, _ = pandas_split
    bg = _calibration_params(split, "bg_nbd")
    r, alpha, a, b = (bg[k] for k in ("r", "alpha", "a", "b"))

    def pmf(x, t):  # FHL 2005 eq. (8)
        def nb(j):
            return (math.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1))
                    * (alpha / (alpha + t)) ** r * (t / (alpha + t)) ** j)
        p = math.exp(betaln(a, b + x) - betaln(a, b)) * nb(x)
        if x > 0:
            p += math.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * (1 - sum(nb(j) for j in range(x)))
        return p

    actual = ref["x"].clip(upper=7).value_counts()
    rows = split.query("select frequency_bucket, frequency_label, actual_customers, expected_customers "
                       "from clv_period_histogram where model = 'bg_nbd' order by 1")
    assert [r_[1] for r_ in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    expected = {x: sum(pmf(x, T) for T in ref["T"]) for x in range(7)}
    expected[7] = len(ref) - sum(expected.values())
    for bucket, _, act, exp in rows:
        assert act == actual[bucket]
        assert exp == pytest.approx(expected[bucket], rel=1e-7)


# -- the model feeding customer_clv_forecast (setting clv_forecast_model) ------

def _demo_forecast(tmp_path_factory, name, vars):
    result = run_dbt(tmp_path_factory.mktemp(name), vars={"dataset": "demo", **vars},
                     extra=["--select", "+customer_clv_forecast", *PARTIAL])
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def demo_default(demo_build):
    return demo_build  # the session's full demo build (conftest.py), default settings


@pytest.fixture(scope="module")
def demo_auto(tmp_path_factory):
    return _demo_forecast(tmp_path_factory, "btyd_family_demo_auto", {"clv_forecast_model": "auto"})


def test_default_forecast_is_bgnbd_and_one_time_buyers_are_certainly_alive(demo_default):
    assert demo_default.query("select distinct forecast_model from customer_clv_forecast") == [("bg_nbd",)]
    n, alive = demo_default.query("select count(*), count(*) filter (where probability_alive = 1) "
                                  "from customer_clv_forecast where frequency = 0")[0]
    # issue 13: 773 one-time buyers on the demo, every one P(alive) = 1 under BG/NBD
    assert n == alive == 773


@pytest.mark.slow  # its own build and BTYD fits (module fixture demo_auto)
def test_auto_picks_the_best_holdout_model_and_mbg_nbd_doubts_one_time_buyers(demo_auto):
    best = demo_auto.query("select model from clv_model_comparison order by holdout_mae, aic limit 1")[0][0]
    assert demo_auto.query("select distinct forecast_model from customer_clv_forecast") == [(best,)]
    assert best == "mbg_nbd"  # on the demo MBG/NBD has the lowest holdout error
    p = {k: v for k, v in demo_auto.query("select parameter, value from clv_forecast_parameters where model = 'mbg_nbd'")}
    r, alpha, a, b = (p[k] for k in ("r", "alpha", "a", "b"))
    rows = demo_auto.query("select f.frequency, f.recency, f.T, f.probability_alive, f.expected_purchases, "
                           "r.days_since_last_purchase from customer_clv_forecast as f "
                           "join customer_rfm as r using (customer_id) where f.frequency = 0")
    assert len(rows) == 773
    for x, t_x, T, prob, _expected, _ in rows:
        p_alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
        assert prob == pytest.approx(p_alive, rel=1e-9) and prob < 1
    # those last seen over a year ago are judged less alive than the recent ones
    old = [r_[3] for r_ in rows if r_[5] > 365]
    new = [r_[3] for r_ in rows if r_[5] <= 90]
    assert len(old) == 322 and max(old) < min(new)


def test_pareto_forecast_uses_the_pareto_closed_form(cdnow_grouped):
    from segkit.btyd_family import score_step

    s = _cdnow_summary().reset_index(names="customer_id")
    rfm = pd.DataFrame({"customer_id": s["customer_id"].astype(str), "frequency": s["x"], "recency": s["t_x"],
                        "T": s["T"], "monetary_value": 20.0})
    pareto = dict(PARETO_PUBLISHED)
    params = pd.DataFrame(
        [("pareto_nbd", k, v) for k, v in pareto.items()]
        + [("bg_nbd", k, v) for k, v in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items()]
        + [("gamma_gamma", k, v) for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items()],
        columns=["model", "parameter", "value"])
    settings = {"clv_forecast_model": "pareto_nbd", "clv_forecast_horizon_months": 12,
                "clv_forecast_monthly_discount_rate": 0.01, "clv_forecast_days_per_month": 30,
                "rfm_time_unit": "day", "rfm_freq_multiplier": 7}
    out = score_step(rfm, params, pd.DataFrame({"model": [], "holdout_rank": []}), settings)
    assert set(out["forecast_model"]) == {"pareto_nbd"}
    r, alpha, s_, beta = (pareto[k] for k in ("r", "alpha", "s", "beta"))
    t = 12 * 30 / 7
    row = out[out["frequency"] == 2].iloc[0]
    x, t_x, T = row["frequency"], row["recency"], row["T"]
    a0 = (hyp2f1(r + s_ + x, s_ + 1, r + s_ + x + 1, (alpha - beta) / (alpha + t_x)) / (alpha + t_x) ** (r + s_ + x)
          - hyp2f1(r + s_ + x, s_ + 1, r + s_ + x + 1, (alpha - beta) / (alpha + T)) / (alpha + T) ** (r + s_ + x))
    p_alive = 1 / (1 + s_ / (r + s_ + x) * (alpha + T) ** (r + x) * (beta + T) ** s_ * a0)
    e = (r + x) * (beta + T) / ((alpha + T) * (s_ - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s_ - 1)) * p_alive
    assert row["probability_alive"] == pytest.approx(p_alive, rel=1e-9)
    assert row["expected_purchases"] == pytest.approx(e, rel=1e-9)
    # one-time buyers are not all alive, and CLV is positive
    assert out.loc[out["frequency"] == 0, "probability_alive"].max() < 1
    assert (out["predicted_clv"] > 0).all()


# -- the two settings ----------------------------------------------------------

@pytest.mark.parametrize("vars, named, fix", [
    ({"clv_forecast_model": "weibull"}, "clv_forecast_model", "bg_nbd, pareto_nbd, mbg_nbd, or auto"),
    ({"clv_calibration_end": "1997-02-30"}, "clv_calibration_end", "YYYY-MM-DD"),
], ids=["clv_forecast_model", "clv_calibration_end"])
def test_a_wrong_btyd_setting_stops_the_build(tmp_path, vars, named, fix):
    result = run_dbt(tmp_path, vars={"dataset": "cdnow", **vars}, extra=["--select", "run_settings"])
    assert result.returncode != 0
    message = result.output[result.output.index(f"Invalid setting var('{named}')"):]
    assert "Fix:" in message and fix in message, message[:800]


@pytest.mark.slow  # a partial build up to the calibration split, failing there
def test_a_calibration_end_after_the_as_of_date_stops_the_split(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "cdnow", "clv_calibration_end": "1997-12-31"},
                     extra=["--select", "+clv_calibration_holdout", *PARTIAL])
    assert result.returncode != 0
    assert "clv_calibration_end (1997-12-31) must be before the as-of date (1997-09-30)" in result.output, \
        result.output[-3000:]
