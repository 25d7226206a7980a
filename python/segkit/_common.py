"""What the segkit modules share: argument checks (each raises ValueError
naming the parameter), the canonical row order, JSON cleaning, numeric
coercion, the single-thread guard, and the one rule for whether a model can be
fitted on the data at hand (fitted, reduced or skipped)."""
from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

_F = TypeVar("_F", bound=Callable[..., Any])


def check_int(name: str, value: Any, minimum: int) -> int:
    """value as an int >= minimum (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """value, which must be one of choices."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(choices)}")
    return str(value)


def check_names(name: str, value: Any, *, allow_empty: bool) -> list[str]:
    """A list of distinct column names (a single string is refused)."""
    if isinstance(value, str):
        raise ValueError(f"{name} must be a list of column names, not a single string {value!r}")
    try:
        names = list(value)
    except TypeError:
        raise ValueError(f"{name} must be a list of column names, got {value!r}") from None
    if not names and not allow_empty:
        raise ValueError(f"{name} must name at least one column")
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{name} must contain column names (str), got {bad!r}")
    dups = sorted({v for v in names if names.count(v) > 1})
    if dups:
        raise ValueError(f"{name} lists columns more than once: {dups}")
    return names


def check_random_state(value: Any) -> int:
    """value as an int seed in [0, 2**32) (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**32:
        raise ValueError(f"random_state must be an integer in [0, 2**32), got {value!r}")
    return int(value)


def check_column_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a column name (non-empty str), got {value!r}")
    return value


# --------------------------------------------------------------------------- #
# Rows, numbers, JSON
# --------------------------------------------------------------------------- #
def canonical_order(ids: pd.Series) -> np.ndarray:
    """Positions that sort ``ids`` (stable); mixed types sort by their string
    form. Every step processes rows in this order, so its output does not
    depend on the input row order."""
    try:
        return np.asarray(ids.argsort(kind="stable"), dtype=np.intp)
    except TypeError:  # mixed types: order by their string form
        return np.asarray(ids.astype(str).argsort(kind="stable"), dtype=np.intp)


def unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of equal-length float columns without NaN: (the distinct
    values of each column, rows in lexicographic order with the first column
    first; the inverse, position of each input row among them; the count of
    each), as ``np.unique(np.column_stack(columns), axis=0, return_inverse=True,
    return_counts=True)`` gives them, by a lexsort of the columns instead of a
    sort of the rows as one structured value (the segment backtest at 1,000,000
    bench customers, three cutoffs: 6 calls 11.3 s -> 1.6 s, the same output)."""
    n = len(columns[0]) if columns else 0
    order = np.lexsort(columns[::-1]) if n else np.arange(0, dtype=np.intp)
    sorted_cols = [np.asarray(c)[order] for c in columns]
    new = np.ones(n, dtype=bool)
    if n:
        new[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in sorted_cols])
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    counts = np.diff(np.append(starts, n))
    return [c[starts] for c in sorted_cols], inverse, counts


def float_column(s: pd.Series, name: str, hint: str = "") -> np.ndarray:
    """Column as float64: booleans 0/1, missing NaN, text parsed as numbers;
    ValueError if it is not numeric (``hint`` ends the message). Infinite
    values are kept: the caller decides."""
    if pd.api.types.is_bool_dtype(s):
        s = s.astype("Float64")
    elif not pd.api.types.is_numeric_dtype(s):
        dtype = s.dtype
        try:
            s = pd.to_numeric(s, errors="raise")
        except (ValueError, TypeError):
            raise ValueError(f"column {name!r} is not numeric or boolean (dtype {dtype}){hint}") from None
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def finite_column(s: pd.Series, name: str, hint: str = "") -> np.ndarray:
    """:func:`float_column`, refusing infinite values."""
    x = float_column(s, name, hint)
    if np.isinf(x).any():
        raise ValueError(f"column {name!r} contains infinite values")
    return x


def json_float(v: Any) -> float | None:
    """float, or None when missing or not finite (JSON has no NaN)."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def json_clean(v: Any) -> Any:
    """v with numpy scalars as Python ones, non-finite floats as None, dict
    keys as str, tuples as lists (recursively)."""
    if isinstance(v, dict):
        return {str(k): json_clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_clean(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return json_float(v)
    return v


def json_default(v: Any) -> Any:
    """``json.dumps(default=...)``: numpy scalars as Python numbers, anything else as str."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return str(v)


def lower_columns(df: pd.DataFrame) -> pd.DataFrame:
    """df with lower-case column names (Snowflake-style upper-case input accepted)."""
    return df.rename(columns={c: c.lower() for c in df.columns})


def typed_frame(rows: Sequence[Any], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A table with exactly the columns and dtypes of ``dtypes`` (also when
    ``rows`` is empty); each row is a dict (a missing key is null) or a tuple in
    column order."""
    def cell(r: Any, i: int, c: str) -> Any:
        return r.get(c) if isinstance(r, Mapping) else r[i]

    return pd.DataFrame({c: pd.Series([cell(r, i, c) for r in rows], dtype=t) for i, (c, t) in enumerate(dtypes.items())})


# --------------------------------------------------------------------------- #
# Settings and the build log
# --------------------------------------------------------------------------- #
def require(settings: Mapping[str, Any], name: str) -> Any:
    """settings[name]; KeyError naming the var when run_settings lacks it."""
    if name not in settings:
        raise KeyError(f"setting {name!r} missing from run_settings; "
                       "declare it under vars: in dbt_project.yml (run_settings records every var)")
    return settings[name]


def progress(message: str) -> None:
    """One progress line on stderr (dbt shows it in its output)."""
    print(f"[segkit] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def single_threaded(func: _F) -> _F:
    """Run ``func`` with BLAS and OpenMP limited to one thread.

    Bit-for-bit reproducibility (sklearn's multi-threaded reductions can change
    the last bits between thread counts and machines) and no oversubscription
    when dbt runs several Python models at once: OpenMP threads spin-waiting
    on a busy machine made a small HistGradientBoosting fit 50x slower than
    on one thread in our measurements.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- #
# Can this model be fitted on the data at hand?
# --------------------------------------------------------------------------- #
FIT_STATUSES: tuple[str, ...] = ("fitted", "reduced", "skipped")
FIT_DECISION_COLUMNS: tuple[str, ...] = ("step", "model", "status", "reason", "rows_available", "parameters")


@dataclass(frozen=True)
class FitDecision:
    """What a model step does with the data it was given.

    ``status``: ``fitted`` (as configured), ``reduced`` (fitted with a smaller
    setting or on fewer classes than configured, see ``params``) or ``skipped``
    (the data cannot support the model; its output is empty). ``reason`` says
    why (None when fitted as configured); ``params`` holds the settings actually
    used (e.g. ``{"cv_folds": 2}``).
    """

    step: str
    model: str
    status: str
    reason: str | None
    rows_available: int
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("status", self.status, FIT_STATUSES)

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    def message(self) -> str:
        """One line for the build log."""
        return f"{self.model}: {self.status}" + (f" ({self.reason})" if self.reason else "")

    def to_record(self) -> dict[str, Any]:
        return {"step": self.step, "model": self.model, "status": self.status, "reason": self.reason,
                "rows_available": int(self.rows_available),
                "parameters": json.dumps(dict(self.params), sort_keys=True, default=str)}


def decide_size(step: str, model: str, rows_available: int, name: str, requested: int, supported: int,
                minimum: int, why: str, params: Mapping[str, Any] | None = None) -> FitDecision:
    """The one rule for a size setting the data bounds (CV folds, k, ...):
    fitted with ``requested`` if the data supports it, reduced to ``supported``
    if that is still >= ``minimum``, else skipped. ``why`` explains the bound
    (e.g. "class 'upgrade' has 2 training rows")."""
    base = dict(params or {})
    if supported < minimum:
        return FitDecision(step, model, "skipped", f"{why}: {name} would be {supported}, below the minimum {minimum}",
                           rows_available, {**base, name: None})
    if supported < requested:
        return FitDecision(step, model, "reduced", f"{name} reduced from {requested} to {supported}: {why}",
                           rows_available, {**base, name: int(supported)})
    return FitDecision(step, model, "fitted", None, rows_available, {**base, name: int(requested)})


def decide_classifier(step: str, model: str, labels: Any, cv_folds: int) -> FitDecision:
    """Stratified K-fold needs two classes and every class in every fold.

    Classes with a single labelled row cannot be both trained on and held out:
    they are left out of the fit (``params["left_out_classes"]``; the model then
    gives them probability 0). Of the rest, at least two classes must remain;
    the folds are reduced to the smallest class count when that is below
    ``cv_folds`` (at least 2), else the model is skipped. Missing labels are not
    counted.
    """
    counts = pd.Series(labels).value_counts(dropna=True).sort_index()
    counts.index = counts.index.map(str)
    n = int(counts.sum())
    rare, kept = counts[counts < 2], counts[counts >= 2]
    shown = {k: int(v) for k, v in counts.items()}
    if len(kept) < 2:
        found = f"{n} labelled rows {shown}" if n else "no labelled rows"
        return FitDecision(step, model, "skipped", f"{found}: need two classes with at least 2 rows each",
                           n, {"cv_folds": None})
    smallest = kept.sort_values(kind="stable").index[0]
    decision = decide_size(step, model, n, "cv_folds", cv_folds, int(kept[smallest]), 2,
                           f"class {smallest!r} has {int(kept[smallest])} training rows")
    if rare.empty:
        return decision
    left_out = {k: int(v) for k, v in rare.items()}
    reason = "; ".join(filter(None, [f"left out classes with a single training row {left_out}", decision.reason]))
    return FitDecision(step, model, "reduced", reason, n, {**decision.params, "left_out_classes": sorted(left_out)})


def decisions_frame(decisions: Sequence[FitDecision]) -> pd.DataFrame:
    """The decisions as a typed table (FIT_DECISION_COLUMNS), also when empty."""
    return typed_frame([d.to_record() for d in decisions],
                       {c: "int64" if c == "rows_available" else "string" for c in FIT_DECISION_COLUMNS})
