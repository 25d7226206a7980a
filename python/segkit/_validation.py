"""Argument checks shared by the estimator-style modules (clustering, churn):
each raises ValueError naming the parameter."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


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
