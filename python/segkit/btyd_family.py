"""The non-contractual BTYD family beside BG/NBD: Pareto/NBD and MBG/NBD, fitted
by maximum likelihood on weighted unique ``(frequency, recency, T)`` rows like
:class:`segkit.btyd.BetaGeoFitter`, with standard errors, AIC/BIC and the
quantities the literature validates them with.

* :class:`ParetoNBDFitter` -- Schmittlein, Morrison & Colombo (1987), the
  likelihood as in Fader, Hardie & Lee (2005), "A Note on Deriving the
  Pareto/NBD Model and Related Expressions" (http://brucehardie.com/notes/009/),
  eq. (22)-(24), with the 2F1 term written for both alpha >= beta and
  alpha < beta and evaluated in log space.  P(X(t) = x) after Fader, Hardie &
  Lee (2006), "Deriving an Expression for P(X(t) = x) Under the Pareto/NBD
  Model" (http://brucehardie.com/notes/012/).
* :class:`ModifiedBetaGeoFitter` -- the MBG/NBD of Batislam, Denizel &
  Filiztekin (2007), "Empirical validation and comparison of models for
  customer base analysis", IJRM 24(3): as BG/NBD, but a customer may also drop
  out right after the first purchase, so a one-time buyer has P(alive) < 1.
* :class:`BGNBDModel` -- the BG/NBD of :mod:`segkit.btyd` (its fit and
  conditional expectation, one definition) with the same family interface.

Every model offers ``fit(x, t_x, T, weights)``, ``log_likelihood_rows``,
``conditional_probability_alive``, ``expected_number_of_purchases_up_to_time``
(E[X(t)] for a new customer), ``conditional_expected_number_of_purchases_up_to_time``
and ``probability_of_n_purchases_up_to_time`` (P(X(t) = n)); after a fit
``params_``, ``log_likelihood_``, ``std_errors_`` (square roots of the diagonal
of the inverse of the negative log-likelihood's Hessian in the natural
parameters, by central differences of the gradient; NaN where the Hessian is
not positive definite), ``aic_``, ``bic_``
(n = customers represented, the sum of the weights), ``n_``, ``converged_``.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from segkit._common import lower_columns, progress, require, typed_frame
from segkit.btyd import (
    BetaGeoFitter,
    GammaGammaFitter,
    _check_positive,
    _check_rfm,
    _check_t,
    _check_weights,
    _grouped_x,
    _minimize,
    _penalized,
    _rate_start,
    customer_lifetime_value,
)

__all__ = [
    "MODELS",
    "BGNBDModel",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "make_model",
    "numerical_hessian",
    "standard_errors",
]

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def numerical_hessian(f: Callable[[FloatArray], float], theta: FloatArray, rel_step: float = 1e-4) -> FloatArray:
    """Central-difference Hessian of ``f`` at ``theta`` (steps relative to |theta|)."""
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.shape[0]
    h = rel_step * np.maximum(np.abs(theta), 1e-3)
    hess = np.empty((k, k))
    f0 = f(theta)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        hess[i, i] = (f(theta + ei) - 2.0 * f0 + f(theta - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            v = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)) / (4.0 * h[i] * h[j])
            hess[i, j] = hess[j, i] = v
    return hess


def hessian_from_gradient(neg_grad: Callable[[FloatArray], FloatArray], theta: FloatArray,
                          rel_step: float = 1e-5, abs_floor: float = 1e-3) -> FloatArray:
    """Central differences of an analytic gradient (2k gradient evaluations), symmetrised
    (steps rel_step * max(|theta|, abs_floor))."""
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.shape[0]
    h = rel_step * np.maximum(np.abs(theta), abs_floor)
    cols = []
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        cols.append((neg_grad(theta + e) - neg_grad(theta - e)) / (2.0 * h[i]))
    hess = np.column_stack(cols)
    return (hess + hess.T) / 2.0


def standard_errors(neg_ll: Callable[[FloatArray], float], theta: FloatArray,
                    neg_grad: Callable[[FloatArray], FloatArray] | None = None,
                    grad_rel_step: float = 1e-5) -> FloatArray:
    """sqrt(diag(H^-1)) of the negative log-likelihood's Hessian at the MLE (from
    the analytic gradient when given, steps grad_rel_step * |theta|, else from the
    likelihood); NaN when the Hessian is not positive definite (no usable curvature)."""
    hess = hessian_from_gradient(neg_grad, theta, grad_rel_step) if neg_grad is not None \
        else numerical_hessian(neg_ll, theta)
    try:
        np.linalg.cholesky(hess)
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full(theta.shape[0], np.nan)
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)


def _one_minus_pow_over(k: float | FloatArray, log_ratio: FloatArray) -> FloatArray:
    """(1 - exp(-k L)) / k, with its limit L as k -> 0 (L = log_ratio >= 0)."""
    k = np.asarray(k, dtype=np.float64)
    small = np.abs(k) < 1e-8
    safe_k = np.where(small, 1.0, k)
    return np.where(small, log_ratio, -np.expm1(-safe_k * log_ratio) / safe_k)


SERIES_B = 50.0  # from this b on, 2F1(1, b; c; z) is summed here, not by scipy
SERIES_MAX_TERMS = 1024
SERIES_BLOCK = 256  # terms summed per step of the direct sum
SERIES_FIRST_BLOCK = 32  # terms first tried on every row (most rows stop within them)


def _series_2f1_1bc(b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """2F1(1, b; c; z) = sum_k prod_{j<k} z (b + j) / (c + j), summed directly in
    blocks of SERIES_BLOCK terms until every row's next term is below 1e-17 of its
    sum: the terms are positive and fall at least as fast as z^k (c >= b), so the
    sum is exact to rounding. scipy's hyp2f1 did not return for b ~ 600, c - b ~ 1.7,
    z ~ 0.997 (a Pareto/NBD fit on the donations data wandered there).

    Every row first gets only SERIES_FIRST_BLOCK terms; the rows whose sum has not
    stopped by then are summed again from the first term in SERIES_BLOCK blocks. A
    row that stops within the first terms has the sum the full block gives, bit for
    bit: its later terms fall by at least z^32 against the term 32 places earlier,
    below the last bit of each of numpy's partial sums. So every value is what the
    full-block sum gives, and an optimiser follows the same path. At the
    1,000,000-customer bench every row here has z <= 0.19 and stops within 30 terms:
    the full 256-term block spent 14.1 of the Pareto/NBD fit's 16.2 s past that point."""
    total = np.ones_like(z)
    j = np.arange(SERIES_FIRST_BLOCK, dtype=np.float64)[None, :]
    terms = np.cumprod(z[:, None] * (b[:, None] + j) / (c[:, None] + j), axis=1)
    total += terms.sum(axis=1)
    rest = terms[:, -1] > 1e-17 * total
    if rest.any():
        total[rest] = _series_2f1_1bc_blocks(b[rest], c[rest], z[rest])
    return total


def _series_2f1_1bc_blocks(b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """The direct sum of :func:`_series_2f1_1bc` from the first term, SERIES_BLOCK terms
    per step, up to SERIES_MAX_TERMS terms and then the tail's geometric bound."""
    total = np.ones_like(z)
    term = np.ones_like(z)
    k = 0.0
    block = np.arange(SERIES_BLOCK, dtype=np.float64)
    live = np.ones(z.shape, dtype=bool)
    while live.any():
        if k >= SERIES_MAX_TERMS:
            # z so close to 1 that the sum needs more terms than this: add the tail's
            # geometric bound term z / (1 - z) (the ratios rise towards z); only an
            # optimiser's excursion far from any sensible estimate gets here
            total[live] += term[live] * z[live] / (1.0 - z[live])
            break
        j = k + block[None, :]
        ratios = z[live, None] * (b[live, None] + j) / (c[live, None] + j)
        terms = term[live, None] * np.cumprod(ratios, axis=1)
        total[live] += terms.sum(axis=1)
        term[live] = terms[:, -1]
        k += block.shape[0]
        live = term > 1e-17 * total
    return total


def _log_2f1_1bc(b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """log 2F1(1, b; c; z) for 0 <= z < 1 and c >= b > 0: a series of positive
    terms bounded by 1/(1-z), so it neither overflows nor cancels. scipy's hyp2f1
    for b < SERIES_B, the direct sum (_series_2f1_1bc) from there on."""
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b, c, z)))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.empty(z.shape, dtype=np.float64)
        big = b >= SERIES_B
        out[~big] = np.log(hyp2f1(1.0, b[~big], c[~big], z[~big]))
        if big.any():
            out[big] = np.log(_series_2f1_1bc(b[big], c[big], z[big]))
        return out


def _dot(a: FloatArray, b: FloatArray) -> float:
    """sum(a * b) by numpy's pairwise summation: the same bits whatever the BLAS
    threads (a BLAS dot splits the sum by thread, and on a busy machine its
    threads cost more than the sum)."""
    return float(np.sum(a * b))


class _ParetoRows:
    """Weighted (x, t_x, T) rows reduced for the Pareto/NBD likelihood: the
    distinct x (with their summed weights) and the distinct (x, t) pairs over
    t in t_x and T, with each row's index into them, so that the 2F1 terms are
    evaluated once per pair (about 120k pairs for 600k rows at 1M customers)."""

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> None:
        n = x.shape[0]
        self.w = w
        self.ux, _, self.wx = _grouped_x(x, w)
        ux, x_inv = self.ux, np.searchsorted(self.ux, x)
        ut, t_inv = np.unique(np.concatenate([t_x, T]), return_inverse=True)
        key = np.concatenate([x_inv, x_inv]).astype(np.int64) * ut.shape[0] + t_inv.reshape(-1)
        ukey, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        self.n_pairs = ukey.shape[0]
        self.px, self.pt = ux[ukey // ut.shape[0]], ut[ukey % ut.shape[0]]
        self.i_tx, self.i_T = inv[:n], inv[n:]


class _Family:
    """Shared fitting machinery: minimise the mean weighted negative
    log-likelihood over log-parameters (BFGS with the model's loglik_and_grad
    gradient, Nelder-Mead fallback: segkit.btyd._minimize; above
    warm_start_rows rows, started from the optimum of a seeded customer
    subsample with its Hessian), then the Hessian from central differences of
    the gradient for the standard errors."""

    name = ""
    param_names: tuple[str, ...] = ()
    # above this many (x, t_x, T) rows, fit a seeded subsample of this many rows
    # first and start the full fit from its optimum (None: no warm start)
    warm_start_rows: int | None = None
    # relative step of the central differences of the gradient for the Hessian
    se_rel_step = 1e-5

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-8, maxiter: int = 2000) -> None:
        self.penalizer_coef = float(penalizer_coef)
        self.tol = tol
        self.maxiter = maxiter
        self.params_: dict[str, float] | None = None
        self.log_likelihood_: float | None = None
        self.std_errors_: dict[str, float] | None = None
        self.aic_: float | None = None
        self.bic_: float | None = None
        self.n_: float | None = None
        self.converged_: bool | None = None
        self.message_: str | None = None

    # subclasses: log_likelihood_rows(params, x, t_x, T) -> per-row LL, and
    # loglik_and_grad(params, x, t_x, T, w, groups) -> (total weighted LL, its gradient)
    @staticmethod
    def log_likelihood_rows(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    @staticmethod
    def loglik_and_grad(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray,
                        groups: Any) -> tuple[float, FloatArray]:
        raise NotImplementedError

    def _initial(self, x: FloatArray, T: FloatArray, w: FloatArray) -> tuple[float, ...]:
        raise NotImplementedError

    @staticmethod
    def _groups(x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray):
        """What loglik_and_grad reuses across evaluations (here: the distinct x)."""
        return _grouped_x(x, w)

    @classmethod
    def from_params(cls, **params: float) -> _Family:
        f = cls()
        missing = [p for p in cls.param_names if p not in params]
        if missing:
            raise ValueError(f"{cls.name}: missing parameters {missing}")
        f.params_ = _check_positive({p: float(params[p]) for p in cls.param_names})
        return f

    def _theta(self) -> FloatArray:
        if self.params_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or from_params()")
        return np.array([self.params_[p] for p in self.param_names])

    def total_log_likelihood(self, params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
                             w: FloatArray) -> float:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll = self.log_likelihood_rows(np.asarray(params, dtype=np.float64), x, t_x, T)
        return float(w @ ll)

    def fit(self, frequency, recency, T, weights=None, initial_params=None) -> _Family:
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, x.shape[0])
        used = w > 0
        x, t_x, T_, w = x[used], t_x[used], T_[used], w[used]
        if not np.any(x > 0):
            raise ValueError(f"{self.name} cannot be fitted: no customer has a repeat purchase "
                             "(all frequency values are 0), so the parameters are not identified")
        if not np.any(T_ > 0):
            raise ValueError(f"{self.name} cannot be fitted: all T values are 0")
        x0 = np.log(np.asarray(initial_params or self._initial(x, T_, w), dtype=np.float64))
        n_warm = self.warm_start_rows
        hess_inv0 = None
        if n_warm is not None and x.shape[0] > n_warm:
            # warm start: the optimum on a seeded subsample of the customers (each
            # row's weight thinned to Poisson(w n_warm / rows), about n_warm rows
            # left); the full-data fit below starts there and needs few steps
            ws = np.random.default_rng(0).poisson(w * (n_warm / x.shape[0])).astype(np.float64)
            pick = ws > 0
            xs, txs, Ts, ws = x[pick], t_x[pick], T_[pick], ws[pick]
            sub_objective = self._objective(xs, txs, Ts, ws, self._groups(xs, txs, Ts, ws))
            sub, sub_ok, _ = _minimize(sub_objective, x0, self.tol, self.maxiter, accept_gtol=1e-5)
            if sub_ok and np.all(np.isfinite(sub)) and np.any(xs > 0):
                x0 = sub
                # its curvature (central differences of the gradient, in the
                # log-parameters) as the full fit's initial inverse Hessian
                hess = hessian_from_gradient(lambda z: sub_objective(z)[1], sub, rel_step=1e-4, abs_floor=1.0)
                try:
                    np.linalg.cholesky(hess)
                    inv = np.linalg.inv(hess)
                    hess_inv0 = (inv + inv.T) / 2.0
                except np.linalg.LinAlgError:
                    hess_inv0 = None
        groups = self._groups(x, t_x, T_, w)
        log_params, ok, msg = _minimize(self._objective(x, t_x, T_, w, groups), x0, self.tol, self.maxiter,
                                        accept_gtol=1e-5, hess_inv0=hess_inv0)
        params = np.exp(log_params)
        self._set_fit(params, x, t_x, T_, w, ok, msg, groups)
        return self

    def _objective(self, x, t_x, T_, w, groups) -> Callable[[FloatArray], tuple[float, FloatArray]]:
        """segkit.btyd._penalized of the model's analytic likelihood and gradient."""
        return _penalized(lambda params: self.loglik_and_grad(params, x, t_x, T_, w, groups), float(w.sum()),
                          self.penalizer_coef)

    def _std_errors(self, params, x, t_x, T_, w, groups=None) -> FloatArray:
        """standard_errors at params, from central differences of the analytic gradient."""
        groups = self._groups(x, t_x, T_, w) if groups is None else groups
        return standard_errors(lambda th: -self.total_log_likelihood(th, x, t_x, T_, w), params,
                               lambda th: -self.loglik_and_grad(th, x, t_x, T_, w, groups)[1], self.se_rel_step)

    def _set_fit(self, params, x, t_x, T_, w, ok, msg, groups=None) -> None:
        total_w = float(w.sum())
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.log_likelihood_ = self.total_log_likelihood(params, x, t_x, T_, w)
        se = self._std_errors(params, x, t_x, T_, w, groups)
        self.std_errors_ = dict(zip(self.param_names, map(float, se)))
        k = len(self.param_names)
        self.aic_ = 2.0 * k - 2.0 * self.log_likelihood_
        self.bic_ = k * float(np.log(total_w)) - 2.0 * self.log_likelihood_
        self.n_ = total_w
        self.converged_ = bool(ok)
        self.message_ = msg
        if not ok:
            warnings.warn(f"{self.name} optimiser did not report convergence: {msg}", RuntimeWarning, stacklevel=3)



# --------------------------------------------------------------------------- #
# Pareto/NBD
# --------------------------------------------------------------------------- #
class ParetoNBDFitter(_Family):
    """Pareto/NBD (r, alpha: the gamma purchase-rate mixing; s, beta: the gamma
    dropout-rate mixing), fitted by maximum likelihood."""

    name = "pareto_nbd"
    param_names = ("r", "alpha", "s", "beta")

    def _initial(self, x, T, w):
        return (*_rate_start(x, T, w), 1.0, float(np.average(T, weights=w)))

    warm_start_rows = 20_000

    def __init__(self, penalizer_coef: float = 0.0, tol: float = 1e-8, maxiter: int = 300) -> None:
        # 300 BFGS iterations (a sensible fit needs under 100; the Nelder-Mead restart
        # gets 40x that in evaluations): on data without continuous timing (the
        # donations dataset) the likelihood rises towards a limit at infinite
        # parameters, and with 2,000 the restart ran for many minutes
        super().__init__(penalizer_coef, tol, maxiter)

    # the gradient's r and s components are themselves central differences: a
    # larger outer step keeps their rounding out of the Hessian (SEs stable to ~1e-6)
    se_rel_step = 1e-3

    @staticmethod
    def _log_I(alpha: float, beta: float, a1: FloatArray, a2: FloatArray, t: FloatArray) -> FloatArray:
        """log I(t), ``I(t) = int_t^inf (alpha+tau)^-a1 (beta+tau)^-a2 dtau`` (a1 = r+x,
        a2 = s+1 in the likelihood; a1 + a2 > 1): the dropout-time integral of
        note 009, whose eq. (22)/(23) 2F1 term is ``F(t) = (r+s+x) I(t)``.

        For alpha >= beta, with z = (alpha-beta)/(alpha+t) and Euler's
        transformation 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z),
        ``I(t) = (alpha+t)^-a1 (beta+t)^(1-a2) 2F1(1, a1; a1+a2; z) / (a1+a2-1)``;
        for alpha < beta the same with (alpha, a1) and (beta, a2) swapped.  The
        2F1 is a bounded series of positive terms (c >= b > 0, 0 <= z < 1), so it
        neither overflows nor cancels."""
        if alpha >= beta:
            big, small, b_big, b_small = alpha, beta, a1, a2
        else:
            big, small, b_big, b_small = beta, alpha, a2, a1
        c = a1 + a2
        return (-b_big * np.log(big + t) + (1.0 - b_small) * np.log(small + t) - np.log(c - 1.0)
                + _log_2f1_1bc(b_big, c, (big - small) / (big + t)))

    @staticmethod
    def _log_J(l_tx: FloatArray, l_T: FloatArray) -> tuple[FloatArray, FloatArray]:
        """log(I(t_x) - I(T)) from log I(t_x) and log I(T) (I decreasing), and
        q - 1 for q = I(T)/I(t_x) (its expm1, which the gradient reuses)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            q_minus_1 = np.expm1(np.minimum(l_T - l_tx, 0.0))
            return l_tx + np.log(-q_minus_1), q_minus_1

    @staticmethod
    def _log_A0(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """log A0 of FHL's note 009, eq. (22)/(23), for either order of alpha and beta:
        ``A0 = F(t_x) - F(T) = (r+s+x) (I(t_x) - I(T))`` with I of :meth:`_log_I`."""
        r, alpha, s, beta = params
        a1 = r + x
        a2 = np.full_like(a1, s + 1.0)
        lJ, _ = ParetoNBDFitter._log_J(ParetoNBDFitter._log_I(alpha, beta, a1, a2, t_x),
                                       ParetoNBDFitter._log_I(alpha, beta, a1, a2, T))
        return np.log(r + s + x) + lJ

    @staticmethod
    def _parts(params, x, t_x, T):
        r, alpha, s, beta = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        u1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        u2 = np.log(s) - np.log(r + s + x) + ParetoNBDFitter._log_A0(params, x, t_x, T)
        return a1, u1, u2

    @staticmethod
    def _groups(x, t_x, T, w) -> _ParetoRows:
        return _ParetoRows(x, t_x, T, w)

    @staticmethod
    def loglik_and_grad(params, x, t_x, T, w, groups: _ParetoRows, gradient: bool = True):
        """Total weighted LL (the sum of :meth:`log_likelihood_rows`) and its gradient
        in (r, alpha, s, beta), computed on the distinct x and the distinct (x, t)
        pairs of ``groups`` (log I only depends on x and t in {t_x, T}):
        ``LL = sum_x w_x A1(x) + sum_rows w logaddexp(u1, u2)``, u1 on the (x, T)
        pairs, ``u2 = log s + log(I(t_x) - I(T))``.  The gradient is analytic except
        d log I / d r and d log I / d s (central differences in a1 and a2):
        d log I / d alpha = -a1 I(a1+1, a2) / I, d log I / d beta = -a2 I(a1, a2+1) / I."""
        r, alpha, s, beta = (float(v) for v in params)
        g = groups
        a1 = r + g.px
        a2 = np.full_like(a1, s + 1.0)
        log_I = ParetoNBDFitter._log_I
        lI = log_I(alpha, beta, a1, a2, g.pt)
        l_tx, l_T = lI[g.i_tx], lI[g.i_T]
        lJ, q_minus_1 = ParetoNBDFitter._log_J(l_tx, l_T)
        log_aT, log_bT = np.log(alpha + g.pt), np.log(beta + g.pt)
        u1 = (-a1 * log_aT - s * log_bT)[g.i_T]
        u2 = np.log(s) + lJ
        A1x = gammaln(r + g.ux) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        # logaddexp(u1, u2) = max(u1, u2) + log1p(e), e = exp(-|u2 - u1|) (e reused below)
        with np.errstate(invalid="ignore"):
            d = u2 - u1
            e = np.exp(-np.abs(d))
            ll = _dot(g.wx, A1x) + _dot(g.w, np.maximum(u1, u2) + np.log1p(e))
        if not gradient:
            return ll, None
        # d log I / d theta on the pairs
        h_r, h_s = 1e-5 * min(1.0, r), 1e-5 * min(1.0, s)
        dI = [
            (log_I(alpha, beta, a1 + h_r, a2, g.pt) - log_I(alpha, beta, a1 - h_r, a2, g.pt)) / (2.0 * h_r),
            -a1 * np.exp(log_I(alpha, beta, a1 + 1.0, a2, g.pt) - lI),
            (log_I(alpha, beta, a1, a2 + h_s, g.pt) - log_I(alpha, beta, a1, a2 - h_s, g.pt)) / (2.0 * h_s),
            -a2 * np.exp(log_I(alpha, beta, a1, a2 + 1.0, g.pt) - lI),
        ]
        # per row d log J = (dl_tx - q dl_T) / (1 - q), q = I(T)/I(t_x), weighted by
        # the share sig of u2 in logaddexp(u1, u2); the row weights are summed onto
        # the pairs (bincount: a fixed order), so each derivative is one dot product
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = 1.0 + q_minus_1
            sw = g.w * np.where(d >= 0, 1.0, e) / (1.0 + e)   # w expit(u2 - u1)
            c = np.where(sw > 0, sw / -q_minus_1, 0.0)       # sw = 0 where I(t_x) = I(T) (t_x = T)
        n_p = g.n_pairs
        on_pairs = (np.bincount(g.i_tx, weights=c, minlength=n_p)
                    - np.bincount(g.i_T, weights=c * q, minlength=n_p))
        u1_w = np.bincount(g.i_T, weights=g.w - sw, minlength=n_p)   # the weight of u1
        W = float(np.sum(g.wx))
        grad = np.array([
            _dot(g.wx, digamma(r + g.ux) - digamma(r)) + W * np.log(alpha) - _dot(u1_w, log_aT) + _dot(on_pairs, dI[0]),
            W * r / alpha - _dot(u1_w, a1 / (alpha + g.pt)) + _dot(on_pairs, dI[1]),
            W * np.log(beta) - _dot(u1_w, log_bT) + float(np.sum(sw)) / s + _dot(on_pairs, dI[2]),
            W * s / beta - s * _dot(u1_w, 1.0 / (beta + g.pt)) + _dot(on_pairs, dI[3]),
        ])
        return ll, grad

    @staticmethod
    def log_likelihood_rows(params, x, t_x, T):
        """``LL = A1 + log(exp(u1) + exp(u2))``, note 009 eq. (19)/(22):
        A1 = lnG(r+x) - lnG(r) + r ln alpha + s ln beta,
        u1 = -(r+x) ln(alpha+T) - s ln(beta+T), u2 = ln(s/(r+s+x)) + ln A0."""
        a1, u1, u2 = ParetoNBDFitter._parts(params, x, t_x, T)
        return a1 + np.logaddexp(u1, u2)

    def conditional_probability_alive(self, frequency, recency, T) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + (s/(r+s+x)) (alpha+T)^(r+x) (beta+T)^s A0), eq. (18)/(24)."""
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _, u1, u2 = self._parts(self._theta(), x, t_x, T_)
        return expit(u1 - u2)

    def expected_number_of_purchases_up_to_time(self, t) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (note 009 eq. 27)."""
        r, alpha, s, beta = self._theta()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return r * beta / alpha * _one_minus_pow_over(s - 1.0, np.log((beta + t_arr) / beta))

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T) -> FloatArray:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1))
        [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive), note 009 eq. (28)."""
        r, alpha, s, beta = self._theta()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        t_b, x_b, tx_b, T_b = _check_t(t, x, t_x, T_)
        p_alive = self.conditional_probability_alive(x_b, tx_b, T_b)
        rate = (r + x_b) * (beta + T_b) / (alpha + T_b)
        return rate * _one_minus_pow_over(s - 1.0, np.log1p(t_b / (beta + T_b))) * p_alive + 0.0

    def probability_of_n_purchases_up_to_time(self, t, n: int) -> FloatArray:
        """P(X(t) = n) for a new customer, FHL note 012 eq. (13)-(14):
        lnG(r+n)/(G(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n (beta/(beta+t))^s
        + alpha^r beta^s B(r+n, s+1)/B(r, s) [B1 - sum_{i=0..n} G(r+s+i)/(G(r+s) i!) t^i B2_i],
        B1 = 2F1(r+s, b2; r+s+n+1; (M-m)/M) / M^(r+s),
        B2_i = 2F1(r+s+i, b2; r+s+n+1; (M-m)/(M+t)) / (M+t)^(r+s+i),
        with M, m, b2 as in :meth:`_log_A0` (b2 = s+1 when alpha >= beta, r+n otherwise)."""
        r, alpha, s, beta = self._theta()
        n = int(n)
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        M, m = max(alpha, beta), min(alpha, beta)
        b2 = s + 1.0 if alpha >= beta else r + n
        c = r + s + n + 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            first = np.exp(gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + r * np.log(alpha / (alpha + t_arr))
                           + n * np.log(t_arr / (alpha + t_arr)) + s * np.log(beta / (beta + t_arr)))
        first = np.where(t_arr == 0, 1.0 if n == 0 else 0.0, first)
        log_pref = r * np.log(alpha) + s * np.log(beta) + betaln(r + n, s + 1.0) - betaln(r, s)
        b1 = hyp2f1(r + s, b2, c, (M - m) / M) / M ** (r + s)
        total = np.zeros_like(t_arr)
        for i in range(n + 1):
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ti = np.where(t_arr > 0, i * np.log(t_arr), 0.0 if i == 0 else -np.inf)
            total += np.exp(gammaln(r + s + i) - gammaln(r + s) - gammaln(i + 1.0) + log_ti
                            - (r + s + i) * np.log(M + t_arr)) * hyp2f1(r + s + i, b2, c, (M - m) / (M + t_arr))
        return first + np.exp(log_pref) * (b1 - total)


# --------------------------------------------------------------------------- #
# MBG/NBD
# --------------------------------------------------------------------------- #
class ModifiedBetaGeoFitter(_Family):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): r, alpha (purchase rate),
    a, b (dropout probability, also at time 0)."""

    name = "mbg_nbd"
    param_names = ("r", "alpha", "a", "b")

    def _initial(self, x, T, w):
        return (*_rate_start(x, T, w), 1.0, 1.0)

    @staticmethod
    def log_likelihood_rows(params, x, t_x, T):
        """LL = A1 + A2 + A3 + log(1 + exp(A4)) (Batislam et al. 2007 eq. 4):
        A1 = lnG(r+x) - lnG(r) + r ln alpha, A2 = ln B(a, b+x+1) - ln B(a, b),
        A3 = -(r+x) ln(alpha+T), A4 = ln(a/(b+x)) + (r+x) ln((alpha+T)/(alpha+t_x))."""
        r, alpha, a, b = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x + 1.0) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return a1 + a2 + a3 + np.logaddexp(a4, 0.0)

    @staticmethod
    def loglik_and_grad(params, x, t_x, T, w, groups):
        """Total weighted LL and its analytic gradient in (r, alpha, a, b); the
        x-only terms (gamma/beta functions, digammas) once per distinct x."""
        r, alpha, a, b = params
        ux, _inv, wx = groups
        a12 = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
               + betaln(a, b + ux + 1.0) - betaln(a, b))
        d_r_x = digamma(r + ux) - digamma(r) + np.log(alpha)
        dg_ab, dg_abx = digamma(a + b), digamma(a + b + ux + 1.0)
        d_a_x = dg_ab - dg_abx
        d_b_x = digamma(b + ux + 1.0) - digamma(b) + dg_ab - dg_abx
        log_aT, log_atx = np.log(alpha + T), np.log(alpha + t_x)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (log_aT - log_atx)
        sig = w * expit(a4)
        ll = float(wx @ a12 + w @ (-(r + x) * log_aT + np.logaddexp(a4, 0.0)))
        grad = np.array([
            wx @ d_r_x - w @ log_aT + sig @ (log_aT - log_atx),
            r / alpha * float(wx.sum()) - w @ ((r + x) / (alpha + T))
            + sig @ ((r + x) * (1.0 / (alpha + T) - 1.0 / (alpha + t_x))),
            wx @ d_a_x + sig.sum() / a,
            wx @ d_b_x - sig @ (1.0 / (b + x)),
        ])
        return ll, grad

    def conditional_probability_alive(self, frequency, recency, T) -> FloatArray:
        """1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)): below 1 also for x = 0."""
        r, alpha, a, b = self._theta()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T_) - np.log(alpha + t_x))
        return expit(-log_odds_dead)

    def expected_number_of_purchases_up_to_time(self, t) -> FloatArray:
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]."""
        r, alpha, a, b = self._theta()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return b / (a - 1.0) * (1.0 - hyp2f1(r, b + 1.0, a + b, z) * (alpha / (alpha + t_arr)) ** r)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T) -> FloatArray:
        """(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]
        * P(alive); the 2F1 through Euler's transformation as in segkit.btyd
        (1 - (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z)), the direct form where that is not finite."""
        r, alpha, a, b = self._theta()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        t_b, x_b, tx_b, T_b = _check_t(t, x, t_x, T_)
        z = t_b / (alpha + T_b + t_b)
        c = a + b + x_b
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            euler = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - r, a - 1.0, c, z)
            direct = np.exp((r + x_b) * np.log1p(-z)) * hyp2f1(r + x_b, b + x_b + 1.0, c, z)
        term = np.where(np.isfinite(euler), euler, direct)
        term = np.where(t_b == 0, 1.0, term)
        p_alive = self.conditional_probability_alive(x_b, tx_b, T_b)
        return (a + b + x_b) / (a - 1.0) * (1.0 - term) * p_alive + 0.0

    def probability_of_n_purchases_up_to_time(self, t, n: int) -> FloatArray:
        """P(X(t) = n) = B(a, b+n+1)/B(a, b) G(r+n)/(G(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n
        + B(a+1, b+n)/B(a, b) [1 - (alpha/(alpha+t))^r sum_{j<n} G(r+j)/(G(r) j!) (t/(alpha+t))^j]."""
        r, alpha, a, b = self._theta()
        return _bg_pmf(r, alpha, t, int(n), betaln(a, b + n + 1.0) - betaln(a, b),
                       betaln(a + 1.0, b + n) - betaln(a, b), True)


def _bg_pmf(r, alpha, t, n, log_b_stay, log_b_drop, drop_term: bool) -> FloatArray:
    t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
    with np.errstate(divide="ignore"):
        log_p0 = r * np.log(alpha / (alpha + t_arr))
        log_q = np.log(t_arr / (alpha + t_arr))
    def nb(j):
        return np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1.0) + log_p0 + (j * log_q if j else 0.0))
    first = np.exp(log_b_stay) * nb(n)
    if not drop_term:
        return first
    partial = sum((nb(j) for j in range(n)), np.zeros_like(t_arr))
    return first + np.exp(log_b_drop) * (1.0 - partial)


# --------------------------------------------------------------------------- #
# BG/NBD in the family interface
# --------------------------------------------------------------------------- #
class BGNBDModel(_Family):
    """The BG/NBD of segkit.btyd (its analytic-gradient fit, P(alive) and
    conditional expectation: one definition) with standard errors, AIC/BIC,
    E[X(t)] and P(X(t) = n) (FHL 2005 eq. 7 and 8)."""

    name = "bg_nbd"
    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def log_likelihood_rows(params, x, t_x, T):
        return BetaGeoFitter._loglik_rows(np.asarray(params, dtype=np.float64), x, t_x, T)

    @staticmethod
    def loglik_and_grad(params, x, t_x, T, w, groups):
        """segkit.btyd's total weighted LL and analytic gradient in (r, alpha, a, b)."""
        ux, _, wx = groups
        return BetaGeoFitter._loglik_and_grad(np.asarray(params, dtype=np.float64), x, t_x, T, w, ux, wx)

    def fit(self, frequency, recency, T, weights=None, initial_params=None) -> BGNBDModel:
        bgf = BetaGeoFitter(penalizer_coef=self.penalizer_coef, tol=self.tol, maxiter=self.maxiter)
        bgf.fit(frequency, recency, T, weights=weights, initial_params=initial_params)
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        w = _check_weights(weights, x.shape[0])
        used = w > 0
        params = np.array([bgf.params_[p] for p in self.param_names])
        self._set_fit(params, x[used], t_x[used], T_[used], w[used], bgf.converged_, bgf.message_)
        return self

    def _bgf(self) -> BetaGeoFitter:
        return BetaGeoFitter.from_params(*self._theta())

    def conditional_probability_alive(self, frequency, recency, T) -> FloatArray:
        return self._bgf().conditional_probability_alive(frequency, recency, T)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T) -> FloatArray:
        return self._bgf().conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)

    def expected_number_of_purchases_up_to_time(self, t) -> FloatArray:
        """E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))] (eq. 7)."""
        r, alpha, a, b = self._theta()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t_arr)) ** r * hyp2f1(r, b, a + b - 1.0, z))

    def probability_of_n_purchases_up_to_time(self, t, n: int) -> FloatArray:
        """FHL 2005 eq. (8); the dropout term only for n > 0."""
        r, alpha, a, b = self._theta()
        n = int(n)
        return _bg_pmf(r, alpha, t, n, betaln(a, b + n) - betaln(a, b),
                       betaln(a + 1.0, b + n - 1.0) - betaln(a, b) if n > 0 else 0.0, n > 0)


MODELS: Mapping[str, type[_Family]] = {"bg_nbd": BGNBDModel, "pareto_nbd": ParetoNBDFitter,
                                       "mbg_nbd": ModifiedBetaGeoFitter}


def make_model(name: str, params: Mapping[str, float]) -> _Family:
    """A family model with given parameters (e.g. read from a parameters table)."""
    if name not in MODELS:
        raise ValueError(f"unknown BTYD model {name!r}; expected one of {sorted(MODELS)}")
    cls = MODELS[name]
    return cls.from_params(**{p: params[p] for p in cls.param_names})


# --------------------------------------------------------------------------- #
# dbt steps (the Python models of models/marts/predictions call these)
# --------------------------------------------------------------------------- #
FAMILY = ("bg_nbd", "pareto_nbd", "mbg_nbd")
PARAMETER_EXTRA_COLUMNS = {"std_error": "float64", "aic": "float64", "bic": "float64", "n_parameters": "Int64"}


def _grouped_rfm(frame, x_col: str = "frequency", tx_col: str = "recency", T_col: str = "t"):
    """Unique (x, t_x, T) rows with their counts, sorted (the fit is then the
    same for the same customers in any order)."""
    return frame.groupby([x_col, tx_col, T_col], sort=True).size().reset_index(name="n")


def fit_family(grouped, penalizer: float, models=("pareto_nbd", "mbg_nbd"), progress=None):
    """{model: fitted model or the ValueError's text} on grouped rows
    (columns frequency, recency, t, n)."""
    out = {}
    for name in models:
        try:
            started = time.perf_counter()
            out[name] = MODELS[name](penalizer_coef=penalizer).fit(
                grouped.iloc[:, 0], grouped.iloc[:, 1], grouped.iloc[:, 2], weights=grouped["n"])
            if progress:
                progress(f"{name}: fitted on {int(grouped['n'].sum()):,} customers "
                         f"({len(grouped):,} unique rows) in {time.perf_counter() - started:.2f}s")
        except ValueError as exc:
            out[name] = str(exc)
    return out


def _gamma_gamma_std_errors(frame, values: Mapping[str, float]) -> dict[str, float]:
    repeat = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
    g = repeat.groupby(["frequency", "monetary_value"], sort=True).size().reset_index(name="n")
    x, m, w = (g[c].to_numpy(dtype=np.float64) for c in ("frequency", "monetary_value", "n"))
    theta = np.array([values["p"], values["q"], values["v"]])
    se = standard_errors(lambda th: -GammaGammaFitter._loglik_and_grad(th, x, m, w)[0], theta)
    return dict(zip(("p", "q", "v"), map(float, se)))


def fit_parameters_step(rfm, settings):
    """clv_forecast_parameters: the BG/NBD and Gamma-Gamma rows of
    segkit.dbt_steps.fit_clv_models (unchanged), then Pareto/NBD and MBG/NBD
    rows fitted on the same weighted unique (frequency, recency, T) rows; every
    row with the parameter's standard error (inverse numerical Hessian of the
    negative log-likelihood) and its model's AIC, BIC and number of parameters."""
    import pandas as pd

    from segkit.dbt_steps import _rfm_frame, btyd_unit_name, fit_clv_models

    base = fit_clv_models(rfm, settings)
    frame = _rfm_frame(rfm)
    frame = frame[frame["frequency"].notna() & frame["t"].notna()]
    time_unit = btyd_unit_name(settings)
    penalizer = float(require(settings, "clv_forecast_penalizer"))
    for c, t in PARAMETER_EXTRA_COLUMNS.items():
        base[c] = pd.Series([None] * len(base), dtype=t)
    grouped = _grouped_rfm(frame) if len(frame) else None

    def add_fit_columns(rows: pd.DataFrame, se: Mapping[str, float], n: float) -> None:
        """std_error, AIC, BIC and n_parameters of one model's rows of base."""
        ll, k = float(rows["log_likelihood"].iloc[0]), len(rows)
        base.loc[rows.index, "std_error"] = [se[p] for p in rows["parameter"]]
        base.loc[rows.index, "aic"] = 2.0 * k - 2.0 * ll
        base.loc[rows.index, "bic"] = k * float(np.log(n)) - 2.0 * ll
        base.loc[rows.index, "n_parameters"] = k

    # BG/NBD: standard errors, AIC and BIC at the fit_clv_models estimates
    bg = base[(base["model"] == "bg_nbd") & base["parameter"].notna()]
    if len(bg) and grouped is not None:
        model = make_model("bg_nbd", dict(zip(bg["parameter"], bg["value"])))
        x, t_x, T_, w = (grouped[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "t", "n"))
        add_fit_columns(bg, dict(zip(model.param_names, model._std_errors(model._theta(), x, t_x, T_, w))), w.sum())
    gg = base[(base["model"] == "gamma_gamma") & base["parameter"].notna()]
    if len(gg):
        add_fit_columns(gg, _gamma_gamma_std_errors(frame, dict(zip(gg["parameter"], gg["value"]))),
                        float(gg["n_customers"].iloc[0]))
    rows = []
    fits = fit_family(grouped, penalizer, progress=progress) if grouped is not None else \
        {m: "no customer with a purchase before the as-of date" for m in ("pareto_nbd", "mbg_nbd")}
    for name, fitted in fits.items():
        if isinstance(fitted, str):
            progress(f"{name}: skipped ({fitted})")
            rows.append(dict(model=name, parameter=None, value=None, log_likelihood=None, n_customers=len(frame),
                             n_excluded=len(frame), converged=False, time_unit=time_unit, note=fitted,
                             std_error=None, aic=None, bic=None, n_parameters=None))
            continue
        for p in fitted.param_names:
            rows.append(dict(model=name, parameter=p, value=fitted.params_[p], log_likelihood=fitted.log_likelihood_,
                             n_customers=int(round(fitted.n_)), n_excluded=0, converged=fitted.converged_,
                             time_unit=time_unit, note=None, std_error=fitted.std_errors_[p], aic=fitted.aic_,
                             bic=fitted.bic_, n_parameters=len(fitted.param_names)))
    return pd.concat([base, typed_frame(rows, base.dtypes.to_dict())], ignore_index=True)


# --------------------------------------------------------------------------- #
# calibration / holdout validation steps
# --------------------------------------------------------------------------- #
HISTOGRAM_MAX = 7   # the period-transactions histogram: 0, 1, ..., 6 and 7+
CALIBRATION_COLUMNS = {"model": "string", "parameter": "string", "value": "float64", "std_error": "float64",
                       "log_likelihood": "float64", "aic": "float64", "bic": "float64", "n_parameters": "Int64",
                       "n_customers": "Int64", "converged": "boolean", "note": "string"}


def _calibration_frame(cal):
    out = lower_columns(cal)
    for c in ("frequency_cal", "recency_cal", "t_cal", "frequency_holdout", "duration_holdout"):
        out[c] = out[c].astype("float64")
    return out


def calibration_parameters_step(cal, settings):
    """Fit the three models on the calibration summaries (weighted unique rows)."""
    frame = _calibration_frame(cal)
    penalizer = float(require(settings, "clv_forecast_penalizer"))
    rows = []
    if frame.empty:
        fits = {m: "no customer with a purchase by the calibration end" for m in FAMILY}
    else:
        grouped = _grouped_rfm(frame, "frequency_cal", "recency_cal", "t_cal")
        fits = fit_family(grouped, penalizer, models=FAMILY, progress=progress)
    for name in FAMILY:
        fitted = fits[name]
        if isinstance(fitted, str):
            rows.append((name, None, None, None, None, None, None, None, len(frame), False, fitted))
            continue
        for p in fitted.param_names:
            rows.append((name, p, fitted.params_[p], fitted.std_errors_[p], fitted.log_likelihood_, fitted.aic_,
                         fitted.bic_, len(fitted.param_names), int(round(fitted.n_)), fitted.converged_, None))
    return typed_frame(rows, CALIBRATION_COLUMNS)


def _fitted_models(params) -> dict[str, _Family]:
    p = lower_columns(params)
    p = p[p["parameter"].notna()]
    return {m: make_model(m, dict(zip(g["parameter"], g["value"].astype(float))))
            for m, g in p.groupby("model", sort=True)}


def holdout_predictions_step(cal, params):
    """Per model and unique (frequency_cal, recency_cal, T_cal, duration_holdout):
    E[X(T, T+duration) | calibration summary] and P(alive) at the calibration end."""
    import pandas as pd

    frame = _calibration_frame(cal)
    keys = ["frequency_cal", "recency_cal", "t_cal", "duration_holdout"]
    u = frame.groupby(keys, sort=True).size().reset_index(name="n_customers")
    parts = []
    for name, model in _fitted_models(params).items():
        parts.append(pd.DataFrame({
            "model": pd.Series([name] * len(u), dtype="string"),
            "frequency_cal": u["frequency_cal"].astype("int64"), "recency_cal": u["recency_cal"],
            "T_cal": u["t_cal"], "duration_holdout": u["duration_holdout"],
            "n_customers": u["n_customers"].astype("int64"),
            "predicted_holdout_purchases": model.conditional_expected_number_of_purchases_up_to_time(
                u["duration_holdout"].to_numpy(), u["frequency_cal"], u["recency_cal"], u["t_cal"]),
            "probability_alive_cal": model.conditional_probability_alive(u["frequency_cal"], u["recency_cal"], u["t_cal"]),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in {
            "model": "string", "frequency_cal": "int64", "recency_cal": "float64", "T_cal": "float64",
            "duration_holdout": "float64", "n_customers": "int64", "predicted_holdout_purchases": "float64",
            "probability_alive_cal": "float64"}.items()})
    return pd.concat(parts, ignore_index=True)


def expected_tracking_step(cal, params, settings):
    """Expected cumulative repeat purchases of the calibration cohort at the end of
    each week (lifetimes' expected_cumulative_transactions): week w covers the
    days start .. start + 7w - 1 (start = the cohort's earliest first purchase
    period); expected(w) = sum over customers whose first purchase period is
    before start + 7w of E[X(t)], t = (start + 7w - first period) in the BTYD unit.
    Weeks run while they end by the as-of date."""
    import pandas as pd

    from segkit.dbt_steps import rfm_unit_days

    frame = _calibration_frame(cal)
    cols = {"model": "string", "week": "int64", "week_end": "datetime64[s]", "expected_cumulative": "float64"}
    if frame.empty:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in cols.items()})
    first = pd.to_datetime(frame["first_period_start"])
    start = first.min()
    end = pd.to_datetime(frame["observation_end"]).iloc[0]
    n_weeks = int(((end - start).days + 1) // 7)
    births = first.groupby(first).size().sort_index()
    birth_days = np.asarray((births.index - start).days, dtype=np.float64)
    counts = births.to_numpy(dtype=np.float64)
    unit = rfm_unit_days(settings)
    parts = []
    weeks = np.arange(1, n_weeks + 1)
    for name, model in _fitted_models(params).items():
        values = []
        for w_ in weeks:
            day = 7.0 * w_
            born = birth_days < day
            t = (day - birth_days[born]) / unit
            values.append(float(np.dot(model.expected_number_of_purchases_up_to_time(t), counts[born])))
        parts.append(pd.DataFrame({"model": pd.Series([name] * len(weeks), dtype="string"), "week": weeks.astype("int64"),
                                   "week_end": (start + pd.to_timedelta(7 * weeks - 1, unit="D")).astype("datetime64[s]"),
                                   "expected_cumulative": values}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: pd.Series([], dtype=t) for c, t in cols.items()})


def expected_period_counts_step(cal, params):
    """Expected customers with x = 0..6 repeat purchases in the calibration period,
    sum_i P(X(T_i) = x) over the customers' calibration ages T_i, and 7+ = the rest."""
    import pandas as pd

    frame = _calibration_frame(cal)
    Ts = frame.groupby("t_cal", sort=True).size()
    T_vals, n = Ts.index.to_numpy(dtype=np.float64), Ts.to_numpy(dtype=np.float64)
    rows = []
    for name, model in _fitted_models(params).items():
        total = 0.0
        for x in range(HISTOGRAM_MAX):
            e = float(np.dot(model.probability_of_n_purchases_up_to_time(T_vals, x), n))
            total += e
            rows.append((name, x, str(x), e))
        rows.append((name, HISTOGRAM_MAX, f"{HISTOGRAM_MAX}+", float(n.sum()) - total))
    return pd.DataFrame({"model": pd.Series([r[0] for r in rows], dtype="string"),
                         "frequency_bucket": pd.Series([r[1] for r in rows], dtype="int64"),
                         "frequency_label": pd.Series([r[2] for r in rows], dtype="string"),
                         "expected_customers": pd.Series([r[3] for r in rows], dtype="float64")})


# --------------------------------------------------------------------------- #
# the forecast: the model the setting clv_forecast_model picks
# --------------------------------------------------------------------------- #
def chosen_model(settings, comparison) -> str:
    """clv_forecast_model, or for auto the model ranked 1 in clv_model_comparison
    (lowest holdout error, ties by AIC); auto without any ranked model (e.g. no
    calibration cohort) falls back to bg_nbd, said on stderr."""
    choice = str(require(settings, "clv_forecast_model"))
    if choice != "auto":
        return choice
    c = lower_columns(comparison)
    ranked = c[c["holdout_rank"].notna()].sort_values("holdout_rank", kind="stable")
    if ranked.empty:
        progress("clv_forecast_model auto: no model has a holdout error (no calibration cohort); using bg_nbd")
        return "bg_nbd"
    return str(ranked["model"].iloc[0])


def score_step(rfm, params, comparison, settings):
    """customer_clv_forecast: segkit.dbt_steps.score_clv (BG/NBD + Gamma-Gamma),
    then, when the chosen model is Pareto/NBD or MBG/NBD, P(alive), expected
    purchases and CLV recomputed with it (Gamma-Gamma spend unchanged, the same
    monthly discounting: segkit.btyd.customer_lifetime_value); forecast_model
    names the model. A chosen model without estimates gives null forecasts."""
    from segkit.dbt_steps import btyd_unit_name, rfm_unit_days, score_clv

    out = score_clv(rfm, params, settings)
    name = chosen_model(settings, comparison)
    out["forecast_model"] = name
    if name == "bg_nbd":
        return out
    fitted = _fitted_models(params[params["model"].isin(list(MODELS))])
    cols = ["probability_alive", "expected_purchases", "predicted_clv"]
    has = out["has_purchase_history"].to_numpy(dtype=bool)
    if name not in fitted:
        progress(f"clv_forecast_model {name}: the model has no estimates; forecasts are null")
        out.loc[:, cols] = float("nan")
        return out
    model = fitted[name]
    h = out.loc[has]
    horizon = int(require(settings, "clv_forecast_horizon_months"))
    days_per_month = float(require(settings, "clv_forecast_days_per_month"))
    per_unit = days_per_month / rfm_unit_days(settings)
    x, t_x, T = h["frequency"].to_numpy(float), h["recency"].to_numpy(float), h["T"].to_numpy(float)
    out.loc[has, "probability_alive"] = model.conditional_probability_alive(x, t_x, T)
    out.loc[has, "expected_purchases"] = model.conditional_expected_number_of_purchases_up_to_time(horizon * per_unit, x, t_x, T)
    gg = params[(params["model"] == "gamma_gamma") & params["parameter"].notna()]
    if len(gg) and has.any():
        v = dict(zip(gg["parameter"], gg["value"].astype(float)))
        ggf = GammaGammaFitter.from_params(v["p"], v["q"], v["v"])
        out.loc[has, "predicted_clv"] = customer_lifetime_value(
            model, ggf, x, t_x, T, h["monetary_value"].fillna(0.0).to_numpy(float), horizon_months=horizon,
            monthly_discount_rate=float(require(settings, "clv_forecast_monthly_discount_rate")),
            time_unit=btyd_unit_name(settings), days_per_month=days_per_month)
    return out
