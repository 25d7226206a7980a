"""Discrete-time customer-base models: the shifted-beta-geometric (sBG) model of
contractual retention (Fader & Hardie 2007, "How to project customer retention";
discounted expected residual lifetime from Fader & Hardie 2010, "Customer-base
valuation in a contractual setting") and the beta-geometric/beta-Bernoulli
(BG/BB) model of discrete transaction opportunities (Fader, Hardie & Shang 2010).

Both are fitted by maximum likelihood on weighted unique rows (identical customers
collapsed into one row with a count), so a fit over millions of customers costs
what its distinct patterns cost. Standard errors come from the inverse of the
numerical Hessian of the negative log-likelihood at the estimate.

The dbt steps at the bottom (``fit_sbg_step``, ``sbg_residual_value_step``,
``fit_bgbb_step``, ``score_bgbb_step``) are what the dbt Python models in
models/marts/contractual call; every setting comes from run_settings.

Conventions (sBG). A subscription is paid for one period at a time; ``renewals``
is the number of renewals it is known to have survived and ``is_lost`` whether it
was lost at the next one. A subscription lost after paying k periods has
renewals = k - 1 and contributes P(T = k); one still open after paying k periods
has renewals = k - 1 and contributes S(k - 1) = P(T > k - 1) (the renewal at the
end of its current period is not known yet). S(t) is the share surviving t
renewals: S(0) = 1, S(t) = S(t - 1) (beta + t - 1) / (alpha + beta + t - 1).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1, logsumexp

from segkit._common import lower_columns, progress, require, typed_frame

FloatArray = np.ndarray


def _weights(weights: Any, n: int) -> FloatArray:
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be one finite, non-negative number per row")
    if w.sum() <= 0:
        raise ValueError("no rows to fit (the weights sum to 0)")
    return w


def _fit_log_params(nll: Callable[[FloatArray], float], x0: FloatArray, maxiter: int = 2000) -> tuple[FloatArray, bool, str]:
    """Minimise nll over log-parameters: Nelder-Mead, polished by BFGS (numerical
    gradient). Deterministic for a given input.

    Nelder-Mead's ``fatol`` is relative to the objective at the start: a
    log-likelihood summed over a million customers is about 4e6, where one unit in
    the last place is 1e-9 and the rounding of the sum moves by several, so an
    absolute 1e-12 can never be met and the search ran into ``maxfev`` (16,000
    evaluations, 34 s on the 1M bench input instead of about 1,000 and 2.5 s)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        start = float(nll(np.asarray(x0, dtype=np.float64)))
        fatol = 1e-12 * max(1.0, abs(start)) if np.isfinite(start) else 1e-12
        nm = minimize(nll, x0, method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": fatol, "maxiter": maxiter, "maxfev": 4 * maxiter})
        polish = minimize(nll, nm.x, method="BFGS", options={"gtol": 1e-8, "maxiter": maxiter})
    best = polish if np.isfinite(polish.fun) and polish.fun <= nm.fun else nm
    z = np.asarray(best.x, dtype=np.float64)
    # converged: the largest central-difference gradient component of the
    # objective (a log-likelihood in the hundreds or thousands) is negligible
    h = 1e-6
    grad = [(nll(z + h * e) - nll(z - h * e)) / (2 * h) for e in np.eye(len(z))]
    ok = bool(np.isfinite(best.fun) and np.max(np.abs(grad)) <= 1e-3 * max(1.0, abs(float(best.fun))) ** 0.5)
    return z, ok, str(best.message)


def _fit_ml(model: Any, names: tuple[str, ...], loglik: Callable[[FloatArray], FloatArray], w: FloatArray,
            maxiter: int = 2000) -> Any:
    """Fit ``model`` by weighted maximum likelihood over its log-parameters from
    0 (:func:`_fit_log_params`) and set the estimates (attributes ``names``),
    ``std_errors_``, ``log_likelihood_``, ``n_`` and ``converged_``.
    ``loglik(params)``: the per-row log-likelihood."""
    def nll(p: FloatArray) -> float:
        return -float(np.dot(w, loglik(p)))

    def nll_log(z: FloatArray) -> float:
        v = nll(np.exp(z))
        return v if np.isfinite(v) else 1e300

    z, ok, _ = _fit_log_params(nll_log, np.zeros(len(names)), maxiter=maxiter)
    est = np.exp(z)
    for name, v in zip(names, est):
        setattr(model, name, float(v))
    model.std_errors_ = dict(zip(names, (float(v) for v in standard_errors(nll, est))))
    model.log_likelihood_ = -nll(est)
    model.n_ = float(w.sum())
    model.converged_ = ok
    return model


def numerical_hessian(f: Callable[[FloatArray], float], x: FloatArray, rel_step: float = 1e-4) -> FloatArray:
    """Central-difference Hessian of f at x."""
    x = np.asarray(x, dtype=np.float64)
    k = len(x)
    h = rel_step * np.maximum(1.0, np.abs(x))
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = v
    return hess


def standard_errors(nll: Callable[[FloatArray], float], params: FloatArray) -> FloatArray:
    """sqrt(diag(H^-1)) of the negative log-likelihood's Hessian at the estimate
    (in the parameters' own scale); NaN where H is not invertible."""
    try:
        cov = np.linalg.inv(numerical_hessian(nll, params))
        diag = np.diag(cov)
        return np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)
    except np.linalg.LinAlgError:
        return np.full(len(params), np.nan)


# --------------------------------------------------------------------------- #
# sBG
# --------------------------------------------------------------------------- #
#: alpha + beta above this: Beta(alpha, beta) is a point mass for every practical
#: purpose (its sd is below 1% of a churn rate of 0.5), the sBG a plain geometric
SBG_HOMOGENEOUS_ABOVE = 1e4

@dataclass
class ShiftedBetaGeometric:
    """sBG: each customer's churn probability theta at every renewal is constant,
    theta ~ Beta(alpha, beta) across customers (Fader & Hardie 2007)."""

    alpha: float = float("nan")
    beta: float = float("nan")
    std_errors_: dict[str, float] = field(default_factory=dict)
    log_likelihood_: float = float("nan")
    n_: float = 0.0
    converged_: bool = False

    @classmethod
    def from_params(cls, alpha: float, beta: float) -> ShiftedBetaGeometric:
        return cls(alpha=float(alpha), beta=float(beta), converged_=True)

    @staticmethod
    def _log_survival(alpha: float, beta: float, t: FloatArray) -> FloatArray:
        """log S(t) = sum over j < t of log(1 - alpha / (alpha + beta + j)) (= log
        B(alpha, beta + t) / B(alpha, beta)), summed term by term with log1p: exact
        also where alpha and beta are huge (the geometric limit), where differences
        of betaln lose every digit."""
        t = np.asarray(t, dtype=np.int64)
        top = int(t.max()) if t.size else 0
        steps = np.log1p(-alpha / (alpha + beta + np.arange(top, dtype=np.float64)))
        return np.concatenate([[0.0], np.cumsum(steps)])[t]

    @classmethod
    def _log_lik(cls, alpha: float, beta: float, renewals: FloatArray, lost: FloatArray) -> FloatArray:
        # still alive after t renewals:          S(t)
        # lost at renewal t+1 after surviving t: P(T = t + 1) = S(t) alpha / (alpha + beta + t)
        log_s = cls._log_survival(alpha, beta, renewals)
        return np.where(lost, log_s + np.log(alpha / (alpha + beta + renewals)), log_s)

    def fit(self, renewals: Any, is_lost: Any, weights: Any = None) -> ShiftedBetaGeometric:
        t = np.asarray(renewals, dtype=np.float64)
        lost = np.asarray(is_lost, dtype=bool)
        if t.ndim != 1 or lost.shape != t.shape:
            raise ValueError("renewals and is_lost must be 1-d and of the same length")
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t != np.round(t)):
            raise ValueError("renewals must be whole numbers >= 0")
        w = _weights(weights, len(t))
        if not lost[w > 0].any():
            raise ValueError("no subscription was lost: the churn rate cannot be estimated")
        if not (t[w > 0] > 0).any() and lost[w > 0].all():
            raise ValueError("every subscription was lost at its first renewal")
        return _fit_ml(self, ("alpha", "beta"), lambda p: self._log_lik(p[0], p[1], t, lost), w)

    def survival(self, t: Any) -> FloatArray:
        """S(t): the share of a starting cohort surviving t renewals."""
        return np.exp(self._log_survival(self.alpha, self.beta, t))

    def retention_rate(self, t: Any) -> FloatArray:
        """r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1."""
        t = np.asarray(t, dtype=np.float64)
        return (self.beta + t - 1) / (self.alpha + self.beta + t - 1)

    def expected_remaining_renewals(self, renewals: Any) -> FloatArray:
        """E[T - n | T > n] for a subscription alive after n renewals: the expected
        number of further renewals, (beta + n) / (alpha - 1); infinite (NaN here)
        when alpha <= 1 (the beta-geometric mean lifetime does not exist)."""
        n = np.asarray(renewals, dtype=np.float64)
        if self.alpha <= 1:
            return np.full(n.shape, np.nan)
        return (self.beta + n) / (self.alpha - 1)

    def derl(self, renewals: Any, discount_rate: float) -> FloatArray:
        """Discounted expected residual lifetime (Fader & Hardie 2010, eq. 6) of a
        subscription alive after n renewals, just before the next renewal
        decision: sum over k >= 1 of S(n + k) / S(n) / (1 + d)^(k - 1), i.e. the
        next payment undiscounted, = (beta + n) / (alpha + beta + n)
        * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d)). d per period."""
        n = np.asarray(renewals, dtype=np.float64)
        if discount_rate <= 0:
            raise ValueError("the discount rate must be > 0 (the undiscounted residual lifetime may be infinite)")
        b = self.beta + n
        c = self.alpha + self.beta + n
        z = 1.0 / (1.0 + discount_rate)
        if self.alpha + self.beta > SBG_HOMOGENEOUS_ABOVE:
            # the geometric limit (constant retention r = b / c): sum r^k z^(k-1) = r / (1 - r z)
            r = b / c
            return r / (1.0 - r * z)
        return b / c * hyp2f1(1.0, b + 1.0, c + 1.0, z)


# --------------------------------------------------------------------------- #
# BG/BB
# --------------------------------------------------------------------------- #
@dataclass
class BetaGeometricBetaBinomial:
    """BG/BB (Fader, Hardie & Shang 2010): while alive a customer transacts at each
    opportunity with probability p ~ Beta(alpha, beta) and dies before each
    opportunity with probability theta ~ Beta(gamma, delta). Data per customer:
    frequency x (opportunities with a transaction, of n after the first),
    recency t_x (the last such opportunity; 0 when x = 0) and n."""

    alpha: float = float("nan")
    beta: float = float("nan")
    gamma: float = float("nan")
    delta: float = float("nan")
    std_errors_: dict[str, float] = field(default_factory=dict)
    log_likelihood_: float = float("nan")
    n_: float = 0.0
    converged_: bool = False

    PARAMS = ("alpha", "beta", "gamma", "delta")

    @classmethod
    def from_params(cls, alpha: float, beta: float, gamma: float, delta: float) -> BetaGeometricBetaBinomial:
        return cls(alpha=float(alpha), beta=float(beta), gamma=float(gamma), delta=float(delta), converged_=True)

    @property
    def params(self) -> tuple[float, float, float, float]:
        return self.alpha, self.beta, self.gamma, self.delta

    @staticmethod
    def _check(x: Any, t_x: Any, n: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        x, t_x, n = (np.asarray(v, dtype=np.float64) for v in (x, t_x, n))
        if not (x.shape == t_x.shape == n.shape) or x.ndim != 1:
            raise ValueError("frequency, recency and n must be 1-d and of the same length")
        if np.any(~np.isfinite(x + t_x + n)) or np.any(x < 0) or np.any(t_x < x) or np.any(n < t_x):
            raise ValueError("need 0 <= frequency <= recency <= n (whole opportunities)")
        if np.any((x == 0) & (t_x != 0)):
            raise ValueError("recency must be 0 for customers with frequency 0")
        return x, t_x, n

    @staticmethod
    def _log_lik(p: tuple[float, ...], x: FloatArray, t_x: FloatArray, n: FloatArray) -> FloatArray:
        a, b, g, d = p
        base = betaln(a, b) + betaln(g, d)
        max_gap = int(np.max(n - t_x)) if len(n) else 0
        if len(n) and np.all(x == np.floor(x)) and np.all(t_x == np.floor(t_x)) and np.all(n == np.floor(n)):
            # whole opportunities: every beta function above takes a parameter plus a
            # whole number up to max(n), so it is evaluated once per whole number on
            # small grids and looked up per row (the same values up to the last bit of
            # the argument; at 100k customers one evaluation went from ~37 ms to <1 ms)
            k = int(np.max(n))
            ks = np.arange(k + 1, dtype=np.float64)
            grid_ab = betaln(a + ks[:, None], b + ks[None, :])   # betaln(a + i, b + j)
            grid_g0 = betaln(g, d + ks)
            grid_g1 = betaln(g + 1, d + ks)
            xi, ti, ni = (v.astype(np.int64) for v in (x, t_x, n))
            alive = grid_ab[xi, ni - xi] + grid_g0[ni] - base
            terms = [alive]
            for i in range(max_gap):
                # died after opportunity t_x + i (before t_x + i + 1), i < n - t_x;
                # indices of the rows masked out are clipped into the grid
                term = grid_ab[xi, np.minimum(ti - xi + i, k)] + grid_g1[np.minimum(ti + i, k)] - base
                terms.append(np.where(i < n - t_x, term, -np.inf))
            return logsumexp(np.vstack(terms), axis=0)
        alive = betaln(a + x, b + n - x) + betaln(g, d + n) - base
        terms = [alive]
        for i in range(max_gap):
            # died after opportunity t_x + i (before t_x + i + 1), i < n - t_x
            term = betaln(a + x, b + t_x - x + i) + betaln(g + 1, d + t_x + i) - base
            terms.append(np.where(i < n - t_x, term, -np.inf))
        return logsumexp(np.vstack(terms), axis=0)

    def fit(self, frequency: Any, recency: Any, n: Any, weights: Any = None) -> BetaGeometricBetaBinomial:
        x, t_x, n_ = self._check(frequency, recency, n)
        w = _weights(weights, len(x))
        return _fit_ml(self, self.PARAMS, lambda p: self._log_lik(tuple(p), x, t_x, n_), w, maxiter=4000)

    def probability_alive(self, frequency: Any, recency: Any, n: Any, m_periods_ahead: int = 1) -> FloatArray:
        """P(alive at opportunity n + m | x, t_x, n); m = 1 is the paper's
        P(alive in the next period) (its table 6 for 2002)."""
        x, t_x, n_ = self._check(frequency, recency, n)
        a, b, g, d = self.params
        num = betaln(a + x, b + n_ - x) - betaln(a, b) + betaln(g, d + n_ + m_periods_ahead) - betaln(g, d)
        return np.exp(num - self._log_lik(self.params, x, t_x, n_))

    def conditional_expected_transactions(self, periods: int, frequency: Any, recency: Any, n: Any) -> FloatArray:
        """E[X(n, n + n*) | x, t_x, n]: expected transactions in the next n* = periods
        opportunities (Fader, Hardie & Shang 2010, eq. 13)."""
        x, t_x, n_ = self._check(frequency, recency, n)
        a, b, g, d = self.params
        s = float(periods)
        log_first = betaln(a + x + 1, b + n_ - x) - betaln(a, b) - self._log_lik(self.params, x, t_x, n_)
        # delta / (gamma - 1) * G(g+d)/G(1+d) * [G(1+d+n)/G(g+d+n) - G(1+d+n+s)/G(g+d+n+s)],
        # the log of |delta / (gamma - 1)| and the sign kept apart (gamma < 1 flips both)
        c = math.log(d) - math.log(abs(g - 1)) + gammaln(g + d) - gammaln(1 + d)
        u = gammaln(1 + d + n_) - gammaln(g + d + n_)
        v = gammaln(1 + d + n_ + s) - gammaln(g + d + n_ + s)
        diff = np.exp(u) - np.exp(v)
        sign = 1.0 if g > 1 else -1.0
        return np.exp(log_first + c) * sign * diff


# --------------------------------------------------------------------------- #
# dbt steps
# --------------------------------------------------------------------------- #
PARAMETER_COLUMNS = {"model": "string", "segment": "string", "parameter": "string", "value": "float64",
                     "std_error": "float64", "log_likelihood": "float64", "n_parameters": "Int64",
                     "aic": "float64", "bic": "float64", "n_customers": "int64", "converged": "bool",
                     "period": "string", "note": "string"}


def _model_rows(model: str, segment: str, fitter: Any, names: tuple[str, ...], period: str) -> list[dict[str, Any]]:
    k, ll, n = len(names), float(fitter.log_likelihood_), float(fitter.n_)
    return [dict(model=model, segment=segment, parameter=name, value=float(getattr(fitter, name)),
                 std_error=fitter.std_errors_.get(name), log_likelihood=ll, n_parameters=k,
                 aic=2 * k - 2 * ll, bic=k * math.log(n) - 2 * ll if n > 0 else None,
                 n_customers=int(round(n)), converged=bool(fitter.converged_), period=period, note=None)
            for name in names]


def _not_fitted(model: str, segment: str, n: int, period: str, note: str) -> dict[str, Any]:
    progress(f"{model} [{segment}]: skipped ({note})")
    return dict(model=model, segment=segment, parameter=None, value=None, std_error=None, log_likelihood=None,
                n_parameters=None, aic=None, bic=None, n_customers=n, converged=False, period=period, note=note)


SBG_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}



def sbg_period_name(settings: Mapping[str, Any]) -> str:
    period = str(require(settings, "sbg_period"))
    if period not in SBG_PERIOD_MONTHS:
        raise ValueError(f"sbg_period {period!r} is not one of {sorted(SBG_PERIOD_MONTHS)}")
    return period


def fit_sbg_step(lifetimes: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """sbg_parameters: the sBG fitted per segment of sbg_input's calibration rows.

    `lifetimes` holds one row per subscription period known at the calibration
    end: plan_level, renewals_at_calibration, is_lost_at_calibration. Segments:
    'all' (every plan level pooled), and each plan level when sbg_segmentation is plan_level.
    Rows are grouped into unique (renewals, lost) patterns with counts."""
    frame = lower_columns(lifetimes)
    frame = frame[frame["renewals_at_calibration"].notna()]
    period = sbg_period_name(settings)
    segments: list[tuple[str, pd.DataFrame]] = [("all", frame)]
    if require(settings, "sbg_segmentation") == "plan_level":
        for level, g in sorted(frame.groupby(frame["plan_level"].fillna("(none)"), sort=True), key=lambda kv: str(kv[0])):
            segments.append((str(level), g))
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for segment, g in segments:
        if g.empty:
            rows.append(_not_fitted("sbg", segment, 0, period, "no subscription period known at the calibration end"))
            continue
        grouped = g.groupby(["renewals_at_calibration", "is_lost_at_calibration"], sort=True).size().reset_index(name="n")
        try:
            fit = ShiftedBetaGeometric().fit(grouped["renewals_at_calibration"], grouped["is_lost_at_calibration"].astype(bool),
                                             weights=grouped["n"])
            model_rows = _model_rows("sbg", segment, fit, ("alpha", "beta"), period)
            if fit.alpha + fit.beta > SBG_HOMOGENEOUS_ABOVE:
                note = (f"no heterogeneity in churn: alpha + beta = {fit.alpha + fit.beta:.3g} (the fit runs off to the "
                        f"geometric limit; only the churn rate alpha / (alpha + beta) = {fit.alpha / (fit.alpha + fit.beta):.4f} "
                        "is identified, the standard errors are not meaningful)")
                progress(f"sBG [{segment}]: {note}")
                for r in model_rows:
                    r["note"] = note
            rows.extend(model_rows)
        except ValueError as exc:
            rows.append(_not_fitted("sbg", segment, len(g), period, str(exc)))
    progress(f"sBG: {len(segments)} segment(s) fitted in {time.perf_counter() - started:.1f}s")
    return typed_frame(rows, PARAMETER_COLUMNS)


def _sbg_fitters(params: pd.DataFrame) -> dict[str, ShiftedBetaGeometric]:
    values: dict[str, dict[str, float]] = {}
    for r in params.itertuples():
        if r.parameter is not None and not pd.isna(r.parameter):
            values.setdefault(str(r.segment), {})[str(r.parameter)] = float(r.value)
    return {s: ShiftedBetaGeometric.from_params(v["alpha"], v["beta"]) for s, v in values.items()
            if "alpha" in v and "beta" in v}


RESIDUAL_COLUMNS = ["subscription_id", "customer_id", "plan_level", "parameter_segment", "renewals",
                    "periods_paid", "payment_per_period", "retention_probability_next",
                    "expected_remaining_renewals", "derl", "contractual_clv", "discount_rate_per_period", "period"]


def sbg_residual_value_step(open_periods: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Per subscription open at the as-of date: its plan level's sBG (the pooled
    'all' fit when its level has none), the probability it renews next time,
    the expected number of further renewals (null when alpha <= 1: infinite
    mean), the discounted expected residual lifetime DERL in payments (the next
    payment undiscounted, d per period from sbg_annual_discount_rate) and
    contractual_clv = payment per period (monthly_amount x the months of an sbg_period) x DERL.
    """
    frame = lower_columns(open_periods)
    months = SBG_PERIOD_MONTHS[sbg_period_name(settings)]
    annual = float(require(settings, "sbg_annual_discount_rate"))
    d = (1.0 + annual) ** (months / 12.0) - 1.0
    fitters = _sbg_fitters(params)
    out = pd.DataFrame({
        "subscription_id": frame["subscription_id"].astype("string"),
        "customer_id": frame["customer_id"].astype("string"),
        "plan_level": frame["plan_level"].astype("string"),
    })
    renewals = frame["renewals_at_as_of"].astype("float64").to_numpy()
    level = frame["plan_level"].fillna("(none)").astype(str).to_numpy()
    seg = np.where(pd.Series(level).isin(list(fitters)).to_numpy(), level, "all")
    out["parameter_segment"] = pd.Series(seg, dtype="string")
    out["renewals"] = renewals.astype("int64") if len(renewals) else pd.Series([], dtype="int64")
    out["periods_paid"] = out["renewals"] + 1
    payment = frame["monthly_amount"].astype("float64").to_numpy() * months
    out["payment_per_period"] = payment
    for c in ("retention_probability_next", "expected_remaining_renewals", "derl"):
        out[c] = np.nan
    for s in np.unique(seg):
        if s not in fitters:
            continue
        m = seg == s
        f = fitters[s]
        out.loc[m, "retention_probability_next"] = f.retention_rate(renewals[m] + 1)
        out.loc[m, "expected_remaining_renewals"] = f.expected_remaining_renewals(renewals[m])
        out.loc[m, "derl"] = f.derl(renewals[m], d)
    out["contractual_clv"] = np.round(payment * out["derl"].to_numpy(), 2)
    for c in ("retention_probability_next", "expected_remaining_renewals", "derl"):
        out[c] = out[c].astype("float64").round(10)
    out["discount_rate_per_period"] = round(d, 12)
    out["period"] = sbg_period_name(settings)
    return out[RESIDUAL_COLUMNS].sort_values("subscription_id", kind="stable").reset_index(drop=True)


def fit_bgbb_step(summary: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """bgbb_parameters: BG/BB on bgbb_input (frequency, recency, n_opportunities per
    customer), fitted on the unique (x, t_x, n) rows with their counts."""
    frame = lower_columns(summary)
    period = str(require(settings, "bgbb_period"))
    frame = frame[frame["n_opportunities"].notna() & (frame["n_opportunities"] > 0)]
    if frame.empty:
        return typed_frame([_not_fitted("bg_bb", "all", 0, period,
                                        "no customer with a transaction opportunity after the first purchase")],
                           PARAMETER_COLUMNS)
    grouped = frame.groupby(["frequency", "recency", "n_opportunities"], sort=True).size().reset_index(name="n")
    started = time.perf_counter()
    progress(f"BG/BB: fitting {len(frame):,} customers ({len(grouped):,} unique rows)")
    try:
        fit = BetaGeometricBetaBinomial().fit(grouped["frequency"], grouped["recency"], grouped["n_opportunities"],
                                              weights=grouped["n"])
        rows = _model_rows("bg_bb", "all", fit, BetaGeometricBetaBinomial.PARAMS, period)
    except ValueError as exc:
        rows = [_not_fitted("bg_bb", "all", len(frame), period, str(exc))]
    progress(f"BG/BB done in {time.perf_counter() - started:.1f}s")
    return typed_frame(rows, PARAMETER_COLUMNS)


BGBB_COLUMNS = ["customer_id", "frequency", "recency", "n_opportunities", "probability_alive",
                "expected_transactions_next", "forecast_periods", "period"]


def score_bgbb_step(summary: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """customer_bgbb: P(alive at the next opportunity) and the expected number of
    transactions in the next bgbb_forecast_periods opportunities, per customer."""
    frame = lower_columns(summary)
    periods = int(require(settings, "bgbb_forecast_periods"))
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype("string"),
                        "frequency": frame["frequency"].astype("int64"),
                        "recency": frame["recency"].astype("int64"),
                        "n_opportunities": frame["n_opportunities"].astype("int64")})
    out["probability_alive"] = np.nan
    out["expected_transactions_next"] = np.nan
    values = {r.parameter: float(r.value) for r in params.itertuples()
              if r.model == "bg_bb" and r.parameter is not None and not pd.isna(r.parameter)}
    ok = (out["n_opportunities"] > 0).to_numpy()
    if all(p in values for p in BetaGeometricBetaBinomial.PARAMS) and ok.any():
        f = BetaGeometricBetaBinomial.from_params(*(values[p] for p in BetaGeometricBetaBinomial.PARAMS))
        h = out.loc[ok]
        out.loc[ok, "probability_alive"] = np.round(f.probability_alive(h["frequency"], h["recency"], h["n_opportunities"]), 10)
        out.loc[ok, "expected_transactions_next"] = np.round(f.conditional_expected_transactions(
            periods, h["frequency"], h["recency"], h["n_opportunities"]), 10)
    out["forecast_periods"] = periods
    out["period"] = str(require(settings, "bgbb_period"))
    return out[BGBB_COLUMNS].sort_values("customer_id", kind="stable").reset_index(drop=True)
