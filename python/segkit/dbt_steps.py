"""Glue between dbt Python models and the segkit package.

dbt Python models stay a few lines long: they read the `run_settings` table (every
configuration var, resolved per dataset, as JSON) and a feature table, call one
function here, and return a DataFrame. The logic lives in plain, unit-tested
functions; nothing here touches dbt.
"""
from __future__ import annotations

import fnmatch
import json
import sys
import time
from typing import Any, Iterable, Mapping

import pandas as pd

from segkit.clustering import cluster_customers

LABEL_COLUMNS = ["customer_id", "method", "cluster_id", "value_tier", "distance", "is_outlier",
                 "fit_sampled", "n_fit", "run_info"]


def read_settings(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """{setting_name: value} from the (setting_name, value_json) rows of run_settings."""
    return {name: json.loads(value) for name, value in rows}


def progress(message: str) -> None:
    """One progress line on stderr (dbt shows it in its output)."""
    print(f"[segkit] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _require(settings: Mapping[str, Any], name: str) -> Any:
    if name not in settings:
        raise KeyError(f"setting {name!r} missing from run_settings; add it to settings_catalog() in macros/settings.sql")
    return settings[name]


def expand_feature_patterns(patterns: Iterable[str], columns: Iterable[str]) -> list[str]:
    """Feature names with shell-style patterns ('revenue_m*') expanded against the
    table's columns, in column order; a plain name is kept even if absent (the
    clustering step then names it in its error)."""
    columns = list(columns)
    out: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
            if not matched:
                raise ValueError(f"cluster_features pattern {pattern!r} matches no column of the feature table")
            out.extend(c for c in matched if c not in out)
        elif pattern not in out:
            out.append(pattern)
    return out


def clustering_step(features: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Run every method in settings['cluster_methods'] over the feature table.

    Returns one row per customer per method (LABEL_COLUMNS). run_info holds the
    run's parameters and choices (k and silhouettes, eps, sampling) as JSON.
    """
    methods = _require(settings, "cluster_methods")
    feature_names = expand_feature_patterns(_require(settings, "cluster_features"), features.columns)
    frames: list[pd.DataFrame] = []
    for method in methods:
        started = time.perf_counter()
        progress(f"clustering {len(features):,} customers with {method} on {len(feature_names)} features")
        labels, info = cluster_customers(
            features,
            method,
            feature_names,
            value_column=_require(settings, "cluster_value_column"),
            scaling=_require(settings, "cluster_scaling"),
            log_features=list(_require(settings, "cluster_log_features") or []),
            k=_require(settings, "cluster_k"),
            k_range=range(int(settings.get("cluster_k_min", 2)), int(settings.get("cluster_k_max", 8)) + 1),
            eps=_require(settings, "cluster_dbscan_eps"),
            min_samples=int(_require(settings, "cluster_dbscan_min_samples")),
            tier_names=list(_require(settings, "cluster_tier_names")),
            random_state=int(_require(settings, "cluster_random_state")),
            max_fit_size=settings.get("cluster_dbscan_max_fit_size") if method == "dbscan" else settings.get("cluster_kmeans_max_fit_size"),
        )
        run_info = info.to_dict()
        run_info.pop("cluster_profile", None)
        labels = labels.assign(
            fit_sampled=bool(info.sampled),
            n_fit=int(info.n_fit),
            run_info=json.dumps(run_info, sort_keys=True),
        )
        frames.append(labels[LABEL_COLUMNS])
        progress(f"{method}: {info.n_clusters} clusters, {info.n_noise} noise, "
                 f"fit on {info.n_fit:,} rows{' (sample)' if info.sampled else ''}, {time.perf_counter() - started:.1f}s")
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            LABEL_COLUMNS, ["string", "string", "int64", "string", "float64", "bool", "bool", "int64", "string"])})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["method", "customer_id"], kind="stable").reset_index(drop=True)
