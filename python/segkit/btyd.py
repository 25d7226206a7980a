"""Buy-'til-you-die models fitted by maximum likelihood with numpy/scipy.

Two estimators and one helper, with no dependency on ``lifetimes`` or PyMC:

* :class:`BetaGeoFitter` -- the BG/NBD model of Fader, Hardie & Lee (2005),
  "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD
  Model", Marketing Science 24(2), 275-284.  Fitted on the per-customer
  summary ``(frequency, recency, T)``:

  - ``frequency`` (x): number of *repeat* purchases in the calibration period
    (purchase occasions after the first one; integer >= 0);
  - ``recency`` (t_x): time of the last purchase, measured from the first one
    (0 when ``frequency == 0``);
  - ``T``: time from the first purchase to the end of the calibration period.

  All three must be in the same time unit (the CDNOW benchmark uses weeks).

* :class:`GammaGammaFitter` -- the Gamma-Gamma spend model of Fader & Hardie
  (2013), "The Gamma-Gamma Model of Monetary Value"
  (http://www.brucehardie.com/notes/025/), fitted on ``frequency`` and
  ``monetary_value`` = the average value of the customer's repeat
  transactions.

* :func:`customer_lifetime_value` -- discounted CLV combining both models the
  way ``lifetimes`` does.

Stated rules
------------
* ``BetaGeoFitter.conditional_probability_alive`` returns 1 for customers with
  ``frequency == 0`` (in the BG/NBD a customer can only drop out right after a
  purchase, and a customer with no repeat purchase has never had the chance).
* ``GammaGammaFitter.fit`` uses only customers with ``frequency > 0`` and
  ``monetary_value > 0``; the others are excluded and counted in
  ``n_excluded_``.
* ``GammaGammaFitter.conditional_expected_average_profit`` returns the
  population mean ``p * v / (q - 1)`` for customers with ``frequency == 0`` or
  ``monetary_value <= 0``.

Parameter estimation minimises the mean negative log-likelihood over the
log-parameters with ``scipy.optimize.minimize`` (BFGS with an analytic
gradient).  Optional ``weights`` let a caller fit on unique rows with counts,
which gives the same estimates as the expanded data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

__all__ = [
    "BetaGeoFitter",
    "GammaGammaFitter",
    "customer_lifetime_value",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

TimeUnit = Literal["week", "day"]
_DAYS_PER_UNIT: dict[str, float] = {"week": 7.0, "day": 1.0}


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _as_float_array(name: str, values: ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = _as_float_array("weights", weights)
    if w.shape[0] != n:
        raise ValueError(f"weights has length {w.shape[0]}, expected {n}")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    if w.sum() <= 0:
        raise ValueError("weights must have a positive sum")
    return w


def _check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and broadcast a (frequency, recency, T) summary."""
    x = _as_float_array("frequency", frequency)
    t_x = _as_float_array("recency", recency)
    T_ = _as_float_array("T", T)
    try:
        x, t_x, T_ = np.broadcast_arrays(x, t_x, T_)
    except ValueError as exc:
        raise ValueError("frequency, recency and T must have the same length") from exc
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must hold non-negative integers (repeat purchase counts)")
    if np.any(t_x < 0):
        raise ValueError("recency must be non-negative")
    if np.any(T_ < 0):
        raise ValueError("T must be non-negative")
    if np.any(t_x > T_ * (1 + 1e-9) + 1e-12):
        raise ValueError("recency must not exceed T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 for customers with frequency 0")
    return x.astype(np.float64), t_x.astype(np.float64), T_.astype(np.float64)


def _minimize(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    tol: float,
    maxiter: int,
    accept_gtol: float = 1e-5,
    hess_inv0: FloatArray | None = None,
) -> tuple[FloatArray, bool, str]:
    """Minimise ``objective`` (value, gradient) over unconstrained log-parameters.

    BFGS with the analytic gradient first.  BFGS often stops with "precision
    loss" when the (mean) log-likelihood is already flat to machine precision;
    the result is accepted as converged whenever the largest gradient
    component is below ``accept_gtol``.  Otherwise a Nelder-Mead search is run
    from the BFGS point and polished by BFGS again.  ``hess_inv0`` (optional):
    the first BFGS run's initial inverse Hessian (e.g. from a warm start).
    """

    def grad_ok(z: FloatArray) -> bool:
        f, g = objective(z)
        return bool(np.isfinite(f) and np.max(np.abs(g)) <= accept_gtol)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        first = {"gtol": tol, "maxiter": maxiter}
        if hess_inv0 is not None:
            first["hess_inv0"] = hess_inv0
        res = minimize(objective, x0, jac=True, method="BFGS", options=first)
        best_x = np.asarray(res.x, dtype=np.float64)
        best_f = float(res.fun)
        message = str(res.message)
        if np.all(np.isfinite(best_x)) and (res.success or grad_ok(best_x)):
            return best_x, True, message
        start = best_x if np.all(np.isfinite(best_x)) and np.isfinite(best_f) else x0
        nm = minimize(lambda z: objective(z)[0], start, method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": 1e-14,
                               "maxiter": 20 * maxiter, "maxfev": 40 * maxiter})
        polish = minimize(objective, nm.x, jac=True, method="BFGS",
                          options={"gtol": tol, "maxiter": maxiter})
        for cand in (nm, polish):
            if np.isfinite(cand.fun) and (not np.isfinite(best_f) or cand.fun <= best_f):
                best_x, best_f = np.asarray(cand.x, dtype=np.float64), float(cand.fun)
                message = f"{cand.message} (after Nelder-Mead restart)"
    ok = bool(np.all(np.isfinite(best_x)) and grad_ok(best_x))
    return best_x, ok, message


def _penalized(
    loglik_and_grad: Callable[[FloatArray], tuple[float, FloatArray]], total_w: float, pen: float
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    """The objective every BTYD fit minimises: the mean weighted negative
    log-likelihood plus the L2 penalty ``pen * sum(params**2)``, over the
    log-parameters, and its gradient there (inf where either is not finite)."""

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll, grad = loglik_and_grad(params)
        f = -ll / total_w + pen * float(np.sum(params**2))
        g = -grad * params / total_w + pen * 2.0 * params**2
        if not np.isfinite(f) or not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(log_params)
        return f, g

    return objective


def _grouped_x(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The distinct x, each row's index into them and the total weight at each."""
    ux, inv = np.unique(x, return_inverse=True)
    return ux, inv, np.bincount(inv, weights=w, minlength=ux.shape[0])


def _check_positive(params: dict[str, float]) -> dict[str, float]:
    """The parameters as floats; ValueError unless each is positive and finite."""
    for name, v in params.items():
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive and finite, got {v}")
    return {name: float(v) for name, v in params.items()}


def _rate_start(x: FloatArray, T: FloatArray, w: FloatArray) -> tuple[float, float]:
    """(r, alpha) to start a fit from: r = 1 and alpha = 1 / (mean repeat
    purchases / mean T), the gamma mean rate of the data."""
    mean_rate = float(np.average(x, weights=w) / max(np.average(T, weights=w), 1e-12))
    return 1.0, 1.0 / max(mean_rate, 1e-6)


def _check_t(t: ArrayLike, *arrays: FloatArray) -> list[FloatArray]:
    """A forecast length ``t`` (finite, >= 0) broadcast against the customer arrays."""
    t_arr = np.asarray(t, dtype=np.float64)
    if np.any(~np.isfinite(t_arr)) or np.any(t_arr < 0):
        raise ValueError("t must be finite and non-negative")
    return np.broadcast_arrays(t_arr, *arrays)


# --------------------------------------------------------------------------- #
# BG/NBD
# --------------------------------------------------------------------------- #
@dataclass
class BetaGeoFitter:
    """BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef:
        L2 penalty ``penalizer_coef * sum(params**2)`` added to the *mean*
        negative log-likelihood (as in ``lifetimes``); 0 gives the plain MLE.
    tol:
        Gradient tolerance of the BFGS optimiser (on the mean log-likelihood).
    maxiter:
        Maximum optimiser iterations.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_:
        ``{"r", "alpha", "a", "b"}``.
    log_likelihood_:
        Total (weighted) log-likelihood at ``params_`` (without penalty).
    n_:
        Number of customers represented (sum of the weights).
    converged_, message_:
        Optimiser status.
    """

    penalizer_coef: float = 0.0
    tol: float = 1e-8
    maxiter: int = 2000

    def __post_init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.log_likelihood_: float | None = None
        self.n_: float | None = None
        self.converged_: bool | None = None
        self.message_: str | None = None

    # -- likelihood ---------------------------------------------------------
    @staticmethod
    def _loglik_rows(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """Per-customer log-likelihood.

        ``LL_i = A1 + A2 + log(exp(u1) + [x>0] exp(u2))`` with
        ``A1 = lnG(r+x) - lnG(r) + r ln(alpha)``,
        ``A2 = lnB(a, b+x) - lnB(a, b)``,
        ``u1 = -(r+x) ln(alpha+T)``,
        ``u2 = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)``
        (FHL 2005, section 3 / Hardie's note 004, using
        ``B(a+1, b+x-1) = B(a, b+x) a / (b+x-1)``).
        """
        r, alpha, a, b = params
        has_repeat = x > 0
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        u1 = -(r + x) * np.log(alpha + T)
        b_x1 = np.where(has_repeat, b + x - 1.0, 1.0)
        u2 = np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x)
        u2 = np.where(has_repeat, u2, -np.inf)
        return a1 + a2 + np.logaddexp(u1, u2)

    @staticmethod
    def _loglik_and_grad(
        params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
        w: FloatArray, ux: FloatArray, wx: FloatArray,
    ) -> tuple[float, FloatArray]:
        """Total weighted log-likelihood and its gradient w.r.t. (r, alpha, a, b).

        ``ux`` are the distinct frequencies and ``wx`` the total weight at each:
        the terms that depend on x only (gamma/beta functions and digammas) are
        evaluated once per distinct x instead of once per customer.
        """
        r, alpha, a, b = params
        # x-only part: A1 + A2 and their derivatives
        a12 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
        dg_abx = digamma(a + b + ux)
        dg_ab = digamma(a + b)
        d_r_x = digamma(r + ux) - digamma(r) + np.log(alpha)
        d_a_x = dg_ab - dg_abx
        d_b_x = digamma(b + ux) - digamma(b) + dg_ab - dg_abx
        # per-customer part: log(exp(u1) + [x>0] exp(u2))
        has_repeat = x > 0
        b_x1 = np.where(has_repeat, b + x - 1.0, 1.0)
        log_aT = np.log(alpha + T)
        log_atx = np.log(alpha + t_x)
        u1 = -(r + x) * log_aT
        u2 = np.where(has_repeat, np.log(a) - np.log(b_x1) - (r + x) * log_atx, -np.inf)
        l3 = np.logaddexp(u1, u2)
        w1 = np.exp(u1 - l3)
        w2 = np.where(has_repeat, 1.0 - w1, 0.0)
        ww1, ww2 = w * w1, w * w2
        ll = float(wx @ a12 + w @ l3)
        grad = np.array([
            wx @ d_r_x - ww1 @ log_aT - ww2 @ log_atx,
            r / alpha * float(wx.sum())
            - ((r + x) * (ww1 / (alpha + T) + ww2 / (alpha + t_x))).sum(),
            wx @ d_a_x + ww2.sum() / a,
            wx @ d_b_x - (ww2 / b_x1).sum(),
        ])
        return ll, grad

    @staticmethod
    def _group_x(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
        ux, _, wx = _grouped_x(x, w)
        return ux, wx

    # -- fitting ------------------------------------------------------------
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
        initial_params: tuple[float, float, float, float] | None = None,
    ) -> BetaGeoFitter:
        """Fit (r, alpha, a, b) by maximum likelihood.

        ``weights`` (optional) are non-negative row counts: fitting unique
        ``(frequency, recency, T)`` rows with their counts is equivalent to
        fitting the expanded data.
        """
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, x.shape[0])
        used = w > 0
        if not np.any(x[used] > 0):
            raise ValueError(
                "BG/NBD cannot be fitted: no customer has a repeat purchase "
                "(all frequency values are 0), so the parameters are not identified"
            )
        if not np.any(T_[used] > 0):
            raise ValueError("BG/NBD cannot be fitted: all T values are 0")
        x, t_x, T_, w = x[used], t_x[used], T_[used], w[used]
        total_w = float(w.sum())

        x0 = np.log(np.asarray(initial_params or (*_rate_start(x, T_, w), 1.0, 1.0), dtype=np.float64))
        ux, wx = self._group_x(x, w)
        objective = _penalized(lambda params: self._loglik_and_grad(params, x, t_x, T_, w, ux, wx), total_w,
                               float(self.penalizer_coef))
        log_params, ok, msg = _minimize(objective, x0, self.tol, self.maxiter)
        params = np.exp(log_params)
        self.params_ = dict(zip(("r", "alpha", "a", "b"), map(float, params)))
        self.log_likelihood_ = self._loglik_and_grad(params, x, t_x, T_, w, ux, wx)[0]
        self.n_ = total_w
        self.converged_ = ok
        self.message_ = msg
        if not ok:
            warnings.warn(f"BG/NBD optimiser did not report convergence: {msg}",
                          RuntimeWarning, stacklevel=2)
        return self

    # -- accessors ----------------------------------------------------------
    def _params(self) -> tuple[float, float, float, float]:
        if self.params_ is None:
            raise RuntimeError("BetaGeoFitter is not fitted; call fit() or set params_")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> BetaGeoFitter:
        """Build a fitter with given parameters (e.g. published ones)."""
        f = cls()
        f.params_ = _check_positive({"r": r, "alpha": alpha, "a": a, "b": b})
        return f

    def log_likelihood(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total (weighted) log-likelihood of the data at ``params_``."""
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, x.shape[0])
        return float(w @ self._loglik_rows(np.array(self._params()), x, t_x, T_))

    # -- predictions --------------------------------------------------------
    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(customer still alive at T | x, t_x, T) (Fader, Hardie & Lee, note 021).

        ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``; equals 1
        when ``frequency == 0`` (stated convention).
        """
        return self._p_alive(*self._params(), *_check_rfm(frequency, recency, T))

    @staticmethod
    def _p_alive(r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray,
                 T: FloatArray) -> FloatArray:
        has_repeat = x > 0
        b_x1 = np.where(has_repeat, b + x - 1.0, 1.0)
        log_odds_dead = (np.log(a) - np.log(b_x1)
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(has_repeat, expit(-log_odds_dead), 1.0)

    @staticmethod
    def _one_minus_hyp_term(
        r: float, alpha: float, a: float, b: float,
        t: FloatArray, x: FloatArray, T: FloatArray,
    ) -> FloatArray:
        """``1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``.

        With ``z = t/(alpha+T+t)``.  Evaluated through Euler's transformation
        ``2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)``, which turns the
        expression into ``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``: the
        series then has a small second parameter and a large third one for
        heavy buyers, so it neither overflows nor loses accuracy as x grows.
        Where that is not finite the direct form is used.
        """
        z = t / (alpha + T + t)
        c = a + b + x - 1.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            euler = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
            direct = np.exp((r + x) * np.log1p(-z)) * hyp2f1(r + x, b + x, c, z)
        term = np.where(np.isfinite(euler), euler, direct)
        term = np.where(t == 0, 1.0, term)
        return 1.0 - term

    def _cond_expected(
        self, r: float, alpha: float, a: float, b: float,
        t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
    ) -> FloatArray:
        first = (a + b + x - 1.0) / (a - 1.0)
        second = self._one_minus_hyp_term(r, alpha, a, b, t, x, T)
        p_alive = self._p_alive(r, alpha, a, b, x, t_x, T)
        return first * second * p_alive + 0.0  # + 0.0 turns -0.0 (t = 0) into 0.0

    def _with_a_guard(
        self, fn: Callable[[float], FloatArray], a: float, h: float = 1e-4
    ) -> FloatArray:
        """Evaluate ``fn(a)``; near the removable singularity a = 1 interpolate
        linearly between ``a = 1 - h`` and ``a = 1 + h`` (error O(h^2))."""
        if abs(a - 1.0) >= h:
            return fn(a)
        lo, hi = fn(1.0 - h), fn(1.0 + h)
        return lo + (a - (1.0 - h)) / (2.0 * h) * (hi - lo)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[X(T, T+t) | x, t_x, T]: expected repeat purchases in (T, T+t].

        Eq. (10) of FHL 2005::

            (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                               * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
            / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))

        ``t`` broadcasts against the customer arrays (a scalar, or one value
        per customer).
        """
        r, alpha, a, b = self._params()
        t_b, x_b, tx_b, T_b = _check_t(t, *_check_rfm(frequency, recency, T))
        return self._with_a_guard(
            lambda aa: self._cond_expected(r, alpha, aa, b, t_b, x_b, tx_b, T_b), a
        )


# --------------------------------------------------------------------------- #
# Gamma-Gamma
# --------------------------------------------------------------------------- #
@dataclass
class GammaGammaFitter:
    """Gamma-Gamma spend model (Fader & Hardie 2013) fitted by maximum likelihood.

    ``monetary_value`` is a customer's average spend per *repeat* transaction
    (zbar) and ``frequency`` the number of repeat transactions (x) it averages.
    The likelihood of zbar given x (Fader & Hardie 2013, note 025) is::

        G(p x + q) / (G(p x) G(q)) * v^q * zbar^(p x - 1) * x^(p x)
            / (v + x zbar)^(p x + q)

    Only customers with ``frequency > 0`` and ``monetary_value > 0`` enter the
    fit (stated rule); the counts excluded are in ``n_excluded_``.  The scale
    parameter is called ``v`` (``gamma`` in Fader & Hardie); ``params_`` holds
    both keys with the same value.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_: ``{"p", "q", "v", "gamma"}``
    log_likelihood_: total (weighted) log-likelihood of the included customers
    n_: customers used (sum of weights of included rows)
    n_excluded_: ``{"frequency_zero": ..., "monetary_nonpositive": ...}``
        (customers with frequency 0 are counted under ``frequency_zero`` only)
    """

    penalizer_coef: float = 0.0
    tol: float = 1e-8
    maxiter: int = 2000

    def __post_init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.log_likelihood_: float | None = None
        self.n_: float | None = None
        self.n_excluded_: dict[str, float] | None = None
        self.converged_: bool | None = None
        self.message_: str | None = None

    @staticmethod
    def _check(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
        x = _as_float_array("frequency", frequency)
        m = _as_float_array("monetary_value", monetary_value)
        try:
            x, m = np.broadcast_arrays(x, m)
        except ValueError as exc:
            raise ValueError("frequency and monetary_value must have the same length") from exc
        if np.any(x < 0):
            raise ValueError("frequency must be non-negative")
        return x.astype(np.float64), m.astype(np.float64)

    @staticmethod
    def _loglik_and_grad(
        params: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray,
        groups: tuple[FloatArray, FloatArray, FloatArray] | None = None,
    ) -> tuple[float, FloatArray]:
        """Total weighted log-likelihood and gradient w.r.t. (p, q, v).

        ``groups = (log_m, ux, wx)`` (precomputed ``log(m)``, distinct
        frequencies and the total weight at each) lets the terms that depend
        on x only be evaluated once per distinct x.
        """
        p, q, v = params
        if groups is None:
            groups = GammaGammaFitter._groups(x, m, w)
        log_m, ux, wx = groups
        # x-only terms
        pux = p * ux
        dg_pxq = digamma(pux + q)
        ll_x = gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * np.log(v) + pux * np.log(ux)
        dp_x = ux * (dg_pxq - digamma(pux) + np.log(ux))
        dq_x = dg_pxq - digamma(q) + np.log(v)
        # per-customer terms
        px = p * x
        vxm = v + x * m
        log_vxm = np.log(vxm)
        ll = float(wx @ ll_x + w @ ((px - 1.0) * log_m - (px + q) * log_vxm))
        wx_ = w * x
        d_p = wx @ dp_x + wx_ @ (log_m - log_vxm)
        d_q = wx @ dq_x - w @ log_vxm
        d_v = q / v * float(wx.sum()) - w @ ((px + q) / vxm)
        return ll, np.array([d_p, d_q, d_v])

    @staticmethod
    def _groups(x: FloatArray, m: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        ux, _, wx = _grouped_x(x, w)
        return np.log(m), ux, wx

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
        initial_params: tuple[float, float, float] | None = None,
    ) -> GammaGammaFitter:
        """Fit (p, q, v) on customers with frequency > 0 and monetary_value > 0."""
        x, m = self._check(frequency, monetary_value)
        w = _check_weights(weights, x.shape[0])
        zero_f = x == 0
        bad_m = (~zero_f) & (m <= 0)
        keep = (~zero_f) & (~bad_m) & (w > 0)
        self.n_excluded_ = {
            "frequency_zero": float(w[zero_f].sum()) if weights is not None else int(zero_f.sum()),
            "monetary_nonpositive": float(w[bad_m].sum()) if weights is not None else int(bad_m.sum()),
        }
        if not np.any(keep):
            raise ValueError(
                "Gamma-Gamma cannot be fitted: no customer has frequency > 0 and "
                "monetary_value > 0"
            )
        x, m, w = x[keep], m[keep], w[keep]
        total_w = float(w.sum())
        if initial_params is None:
            mean_m = float(np.average(m, weights=w))
            initial_params = (1.0, 2.0, mean_m)   # implies population mean = mean_m
        x0 = np.log(np.asarray(initial_params, dtype=np.float64))
        groups = self._groups(x, m, w)
        objective = _penalized(lambda params: self._loglik_and_grad(params, x, m, w, groups), total_w,
                               float(self.penalizer_coef))
        log_params, ok, msg = _minimize(objective, x0, self.tol, self.maxiter)
        params = np.exp(log_params)
        p, q, v = map(float, params)
        self.params_ = {"p": p, "q": q, "v": v, "gamma": v}
        self.log_likelihood_ = self._loglik_and_grad(params, x, m, w, groups)[0]
        self.n_ = int(round(total_w)) if weights is None else total_w
        self.converged_ = ok
        self.message_ = msg
        if not ok:
            warnings.warn(f"Gamma-Gamma optimiser did not report convergence: {msg}",
                          RuntimeWarning, stacklevel=2)
        return self

    @classmethod
    def from_params(cls, p: float, q: float, v: float) -> GammaGammaFitter:
        """Build a fitter with given parameters (e.g. published ones)."""
        f = cls()
        f.params_ = {**_check_positive({"p": p, "q": q, "v": v}), "gamma": float(v)}
        return f

    def _params(self) -> tuple[float, float, float]:
        if self.params_ is None:
            raise RuntimeError("GammaGammaFitter is not fitted; call fit() or set params_")
        return self.params_["p"], self.params_["q"], self.params_["v"]

    def log_likelihood(
        self, frequency: ArrayLike, monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total log-likelihood at ``params_`` over the included customers."""
        x, m = self._check(frequency, monetary_value)
        w = _check_weights(weights, x.shape[0])
        keep = (x > 0) & (m > 0)
        return self._loglik_and_grad(np.array(self._params()), x[keep], m[keep], w[keep])[0]

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> FloatArray:
        """E[Z | x, zbar] = (p v + p x zbar) / (p x + q - 1), eq. (5).

        A weighted mean of the population mean ``p v / (q - 1)`` and the
        customer's own ``zbar``.  Customers with ``frequency == 0`` or
        ``monetary_value <= 0`` get the population mean (stated rule). When
        q <= 1 the population mean is infinite: those customers get NaN, and
        the others the form (p v + p x zbar) / (p x + q - 1), itself finite
        only when p x + q > 1 (NaN otherwise).
        """
        p, q, v = self._params()
        x, m = self._check(frequency, monetary_value)
        informative = (x > 0) & (m > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = (p * v + p * x * m) / (p * x + q - 1.0)
        cond = np.where(p * x + q - 1.0 > 0, cond, np.nan)  # finite only when p x + q > 1
        pop = p * v / (q - 1.0) if q > 1 else np.nan
        return np.where(informative, cond, pop)


# --------------------------------------------------------------------------- #
# CLV
# --------------------------------------------------------------------------- #
def customer_lifetime_value(
    bgf: BetaGeoFitter,
    ggf: GammaGammaFitter,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    horizon_months: int,
    monthly_discount_rate: float,
    time_unit: TimeUnit,
    days_per_month: float,
) -> FloatArray:
    """Discounted customer lifetime value over ``horizon_months``.

    Computed as ``lifetimes`` does::

        CLV = sum_{m=1..H} (E[X(t_m) | x, t_x, T] - E[X(t_{m-1}) | x, t_x, T])
                           * E[Z | x, zbar] / (1 + d)^m

    where ``E[X(t) | ...]`` is
    :meth:`BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time`,
    ``E[Z | ...]`` is
    :meth:`GammaGammaFitter.conditional_expected_average_profit` (population
    mean for customers with frequency 0 or non-positive monetary value),
    ``d = monthly_discount_rate`` and ``H = horizon_months``.

    Month mapping: month ``m`` ends ``m * days_per_month`` days after the end
    of the calibration period (``T``), i.e. ``t_m = m * 30 / 7`` weeks when
    ``time_unit == "week"`` and ``t_m = m * 30`` days when
    ``time_unit == "day"`` (the setting clv_forecast_days_per_month, 30).  ``lifetimes``
    uses 30 days for its ``freq="D"`` and 4.345 weeks (30.415 days) for
    ``freq="W"``; pass ``days_per_month=30.415`` to match the latter.
    ``frequency``, ``recency`` and ``T`` must be in ``time_unit``, the unit
    the BG/NBD model was fitted in.
    """
    if time_unit not in _DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be 'week' or 'day', got {time_unit!r}")
    if int(horizon_months) != horizon_months or horizon_months < 0:
        raise ValueError("horizon_months must be a non-negative integer")
    if not (np.isfinite(monthly_discount_rate) and monthly_discount_rate > -1):
        raise ValueError("monthly_discount_rate must be finite and > -1")
    if not (np.isfinite(days_per_month) and days_per_month > 0):
        raise ValueError("days_per_month must be positive")
    x, t_x, T_ = _check_rfm(frequency, recency, T)
    spend = ggf.conditional_expected_average_profit(x, monetary_value)
    units_per_month = days_per_month / _DAYS_PER_UNIT[time_unit]
    clv = np.zeros_like(x)
    previous = np.zeros_like(x)
    for month in range(1, int(horizon_months) + 1):
        cumulative = bgf.conditional_expected_number_of_purchases_up_to_time(
            month * units_per_month, x, t_x, T_)
        clv += (cumulative - previous) * spend / (1.0 + monthly_discount_rate) ** month
        previous = cumulative
    return clv
