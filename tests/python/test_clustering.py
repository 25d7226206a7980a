"""Tests for segkit.clustering (small synthetic data, fast)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segkit.clustering import (
    OUTPUT_COLUMNS,
    _knee,
    _tier_index_by_rank,
    assign_value_tiers,
    choose_eps_kdistance,
    choose_k_silhouette,
    dbscan_labels,
    kmeans_labels,
    prepare_features,
)
from segkit.clustering import cluster_customers as _cluster_customers

#: the settings clustering_step passes (the cluster_* defaults in dbt_project.yml)
CLUSTER_SETTINGS = dict(scaling="zscore", log_features=(), k=None, k_range=range(2, 9), eps=None, min_samples=5,
                        tier_names=("High", "Medium", "Low"), random_state=42, max_fit_size=None)


def cluster_customers(*args, **kwargs):
    """cluster_customers as clustering_step calls it, with some settings changed."""
    return _cluster_customers(*args, **{**CLUSTER_SETTINGS, **kwargs})


TIERS = CLUSTER_SETTINGS["tier_names"]
#: the settings cluster_customers passes on (cluster_random_state, k_min..k_max,
#: cluster_kmeans_max_fit_size / cluster_dbscan_max_fit_size)
KMEANS_KW = dict(random_state=42, k_range=range(2, 9), max_fit_size=200_000)
DBSCAN_KW = dict(random_state=42, max_fit_size=50_000)

FEATURES = ["f1", "f2", "f3"]


# --------------------------------------------------------------------------- #
# Fixtures
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def blobs4() -> tuple[pd.DataFrame, np.ndarray]:
    """1,200 customers in 4 well separated 3-D blobs; value rises with the blob id."""
    X, y = make_blobs(n_samples=1200, centers=4, n_features=3, cluster_std=0.8, random_state=7)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(X, columns=FEATURES)
    df.insert(0, "customer_id", np.arange(1200) + 10_000)
    # blob 3 is the most valuable, blob 0 the least
    df["value"] = 100.0 * (y + 1) + rng.normal(0.0, 5.0, size=y.size)
    return df, y


@pytest.fixture(scope="module")
def blobs2d() -> tuple[np.ndarray, np.ndarray]:
    """3,000 points in 4 separated 2-D blobs (for DBSCAN)."""
    return make_blobs(n_samples=3000, centers=4, n_features=2, cluster_std=0.6, random_state=3)


def _dbscan_frame(X: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(X, columns=["f1", "f2"])
    df.insert(0, "customer_id", [f"C{i:05d}" for i in range(len(X))])  # sorted == row order
    df["value"] = X[:, 0]
    return df


# --------------------------------------------------------------------------- #
# prepare_features
# --------------------------------------------------------------------------- #
def test_zscore_uses_population_std_and_zeroes_constant_columns():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [5.0, 5.0, 5.0, 5.0], "c": [0.1] * 4})
    X = prepare_features(df, ["a", "b", "c"], scaling="zscore", log_features=())
    a = df["a"].to_numpy()
    np.testing.assert_allclose(X[:, 0], (a - a.mean()) / a.std(ddof=0))
    assert X[:, 0].std(ddof=0) == pytest.approx(1.0)
    assert not np.allclose(X[:, 0], (a - a.mean()) / a.std(ddof=1))
    assert (X[:, 1] == 0).all() and (X[:, 2] == 0).all()  # 0.1 * 4 has float std ~1e-17
    assert X.dtype == np.float64 and X.flags.c_contiguous


def test_nan_becomes_zero_before_scaling():
    df = pd.DataFrame({"a": [np.nan, 2.0, 4.0], "n": pd.array([1, None, 3], dtype="Int64")})
    X = prepare_features(df, ["a", "n"], scaling="none", log_features=())
    np.testing.assert_array_equal(X, [[0.0, 1.0], [2.0, 0.0], [4.0, 3.0]])
    Xz = prepare_features(df, ["a"], scaling="zscore", log_features=())
    v = np.array([0.0, 2.0, 4.0])
    np.testing.assert_allclose(Xz[:, 0], (v - v.mean()) / v.std())


def test_log_features_clip_negatives_then_log1p():
    df = pd.DataFrame({"money": [-50.0, 0.0, 9.0, 99.0, np.nan], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    X = prepare_features(df, ["money", "x"], scaling="none", log_features=["money"])
    np.testing.assert_allclose(X[:, 0], [0.0, 0.0, np.log(10.0), np.log(100.0), 0.0])
    np.testing.assert_array_equal(X[:, 1], df["x"].to_numpy())
    Xz = prepare_features(df, ["money", "x"], scaling="zscore", log_features=["money"])
    lv = X[:, 0]
    np.testing.assert_allclose(Xz[:, 0], (lv - lv.mean()) / lv.std())


def test_robust_scaling_median_iqr_with_std_fallback():
    a = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    mostly_zero = np.array([0.0, 0.0, 0.0, 0.0, 10.0])  # IQR == 0 but not constant
    df = pd.DataFrame({"a": a, "z": mostly_zero, "c": [7.0] * 5})
    X = prepare_features(df, ["a", "z", "c"], scaling="robust", log_features=())
    q25, med, q75 = np.quantile(a, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(X[:, 0], (a - med) / (q75 - q25))
    np.testing.assert_allclose(X[:, 1], mostly_zero / mostly_zero.std())
    assert (X[:, 2] == 0).all()


def test_bool_features_are_zero_one():
    df = pd.DataFrame({"flag": [True, False, True]})
    np.testing.assert_array_equal(prepare_features(df, ["flag"], scaling="none", log_features=())[:, 0], [1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(features=["a"], scaling="minmax"), "unknown scaling 'minmax'"),
        (dict(features=["a", "nope", "gone"]), r"features missing from the DataFrame: \['nope', 'gone'\]"),
        (dict(features=["a"], log_features=["b"]), r"log_features must be a subset of features.*\['b'\]"),
        (dict(features=[]), "features must name at least one column"),
        (dict(features="a"), "features must be a list of column names"),
        (dict(features=["s"]), "column 's' is not numeric"),
        (dict(features=["inf"]), r"features contain infinite values: \['inf'\]"),
    ],
)
def test_prepare_features_validation(kwargs, message):
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "s": ["x", "y"], "inf": [1.0, np.inf]})
    with pytest.raises(ValueError, match=message):
        prepare_features(df, **{"scaling": "zscore", "log_features": (), **kwargs})


# --------------------------------------------------------------------------- #
# KMeans
# --------------------------------------------------------------------------- #
def test_choose_k_silhouette_finds_true_k(blobs4):
    df, _ = blobs4
    X = prepare_features(df, FEATURES, "zscore", ())
    k, scores = choose_k_silhouette(X, range(2, 9), random_state=1, sample_size=500)
    assert k == 4
    assert sorted(scores) == list(range(2, 9))
    assert scores[4] == max(scores.values())
    assert scores[4] > 0.8  # observed 0.83


def test_choose_k_skips_unscorable_k():
    X = np.array([[0.0], [0.0], [1.0], [1.0], [5.0]])  # 3 distinct points
    k, scores = choose_k_silhouette(X, range(2, 6), random_state=42)
    assert k in (2, 3)
    assert np.isnan(scores[4]) and np.isnan(scores[5])  # fewer distinct points than k / k >= n


def test_kmeans_with_k_none_recovers_blobs(blobs4):
    df, y = blobs4
    out, info = cluster_customers(df, "kmeans", FEATURES, value_column="value")
    assert info.k == 4 and info.k_source == "silhouette"
    assert set(info.silhouette) == set(range(2, 9))
    ari = adjusted_rand_score(y, out["cluster_id"])
    assert ari >= 0.99  # observed 1.0
    assert not info.sampled and info.n_fit == len(df)
    assert not out["is_outlier"].any()


def test_kmeans_distances_are_distances_to_assigned_centre(blobs4):
    df, _ = blobs4
    X = prepare_features(df, FEATURES, "zscore", ())
    labels, dist, info = kmeans_labels(X, 4, **KMEANS_KW)
    np.testing.assert_allclose(dist, np.linalg.norm(X - info.centers[labels], axis=1))
    assert info.inertia == pytest.approx(float((dist**2).sum()))
    assert info.k_source == "given" and info.silhouette == {}


def test_kmeans_sampled_fit_path(blobs4):
    df, y = blobs4
    X = prepare_features(df, FEATURES, "zscore", ())
    labels, _, info = kmeans_labels(X, 4, **{**KMEANS_KW, "max_fit_size": 300})
    assert info.sampled and info.n_fit == 300
    assert adjusted_rand_score(y, labels) >= 0.99  # observed 1.0
    full_labels, _, _ = kmeans_labels(X, 4, **KMEANS_KW)
    assert adjusted_rand_score(full_labels, labels) == 1.0


# --------------------------------------------------------------------------- #
# Value tiers and stable ids
# --------------------------------------------------------------------------- #
def test_value_tiers_are_ordered_by_mean_value(blobs4):
    df, y = blobs4
    out, info = cluster_customers(df, "kmeans", FEATURES, value_column="value", k=4)
    # blob 3 has the highest value -> cluster 0 ... blob 0 -> cluster 3
    ct = pd.crosstab(y, out["cluster_id"])
    assert {int(b): int(ct.loc[b].idxmax()) for b in range(4)} == {3: 0, 2: 1, 1: 2, 0: 3}
    means = out.assign(value=df["value"]).groupby("cluster_id")["value"].mean()
    assert means.is_monotonic_decreasing
    tiers = out.groupby("cluster_id")["value_tier"].first().to_dict()
    assert tiers == {0: "High", 1: "Medium", 2: "Medium", 3: "Low"}
    prof = info.cluster_profile
    assert list(prof["cluster_id"]) == [0, 1, 2, 3]
    assert prof["value_mean"].is_monotonic_decreasing
    assert prof["n_customers"].sum() == len(df) and prof["share"].sum() == pytest.approx(1.0)
    assert {"mean_f1", "mean_f2", "mean_f3"} <= set(prof.columns)


@pytest.mark.parametrize("method", ["kmeans", "dbscan"])
def test_labels_stable_under_row_shuffling(blobs4, method):
    df, _ = blobs4
    kw = dict(k=None) if method == "kmeans" else dict(eps=None, min_samples=5)
    out, info = cluster_customers(df, method, FEATURES, value_column="value", **kw)
    shuffled = df.sample(frac=1.0, random_state=123).reset_index(drop=True)
    out2, info2 = cluster_customers(shuffled, method, FEATURES, value_column="value", **kw)
    # output rows follow the input rows
    assert out2["customer_id"].tolist() == shuffled["customer_id"].tolist()
    a = out.set_index("customer_id").sort_index()
    b = out2.set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(a, b)  # exact: ids, tiers, distances bit for bit
    assert info.to_dict() == info2.to_dict()


def test_same_input_gives_identical_output(blobs4):
    df, _ = blobs4
    out1, info1 = cluster_customers(df, "kmeans", FEATURES, value_column="value", max_fit_size=500)
    out2, info2 = cluster_customers(df, "kmeans", FEATURES, value_column="value", max_fit_size=500)
    pd.testing.assert_frame_equal(out1, out2)
    assert info1.to_dict() == info2.to_dict()


@pytest.mark.parametrize(
    ("n_clusters", "expected"),
    [
        (1, [0]),
        (2, [0, 2]),
        (3, [0, 1, 2]),
        (4, [0, 1, 1, 2]),
        (5, [0, 0, 1, 1, 2]),
        (6, [0, 0, 1, 1, 2, 2]),
        (7, [0, 0, 1, 1, 1, 2, 2]),
        (8, [0, 0, 0, 1, 1, 1, 2, 2]),
    ],
)
def test_tier_split_three_tiers(n_clusters, expected):
    assert _tier_index_by_rank(n_clusters, 3).tolist() == expected


def test_tier_split_properties():
    for t in range(1, 6):
        for k in range(1, 15):
            idx = _tier_index_by_rank(k, t)
            assert len(idx) == k and idx[0] == 0
            assert np.all(np.diff(idx) >= 0)  # contiguous groups
            if k >= 2:
                assert idx[-1] == t - 1
            if k >= t:
                sizes = np.bincount(idx, minlength=t)
                assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1


def test_assign_value_tiers_ties_noise_and_permutation():
    labels = np.array([5, 5, 7, 7, 7, 9, 9, 9, -1, 2])
    value = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 99.0, np.nan])
    rank, tier = assign_value_tiers(labels, value, TIERS)
    # 9 has the highest mean; 5 and 7 tie on mean -> larger (7) first; 2 (NaN -> 0) last
    assert rank.tolist() == [2, 2, 1, 1, 1, 0, 0, 0, -1, 3]
    assert tier.tolist() == ["Medium"] * 5 + ["High"] * 3 + ["Outlier", "Low"]
    # equal mean and size -> original label decides
    r2, _ = assign_value_tiers(np.array([4, 1]), np.array([2.0, 2.0]), TIERS)
    assert r2.tolist() == [1, 0]
    # row order does not matter
    perm = np.random.default_rng(0).permutation(labels.size)
    rank_p, tier_p = assign_value_tiers(labels[perm], value[perm], TIERS)
    assert np.array_equal(rank_p, rank[perm]) and np.array_equal(tier_p, tier[perm])


def test_assign_value_tiers_custom_names_and_validation():
    rank, tier = assign_value_tiers(np.array([0, 1]), np.array([1.0, 2.0]), tier_names=["Gold", "Silver", "Bronze"])
    assert rank.tolist() == [1, 0] and tier.tolist() == ["Bronze", "Gold"]
    with pytest.raises(ValueError, match="same length"):
        assign_value_tiers(np.array([0, 1]), np.array([1.0]), TIERS)
    with pytest.raises(ValueError, match="-1 for noise"):
        assign_value_tiers(np.array([0, -2]), np.array([1.0, 2.0]), TIERS)
    with pytest.raises(ValueError, match="tier_names must name at least one column"):
        assign_value_tiers(np.array([0]), np.array([1.0]), tier_names=[])


# --------------------------------------------------------------------------- #
# DBSCAN
# --------------------------------------------------------------------------- #
def test_knee_of_chord():
    curve = np.concatenate([np.linspace(0.0, 1.0, 90), np.linspace(2.0, 20.0, 10)])
    assert _knee(curve) == pytest.approx(1.0)
    assert _knee(np.array([3.0, 3.0, 3.0])) == 3.0


def test_kdistance_eps_is_positive_and_sensible(blobs2d):
    X, y = blobs2d
    eps = choose_eps_kdistance(X, min_samples=5, random_state=42)
    assert 0.1 < eps < 0.6  # observed 0.194; cluster_std is 0.6
    labels = DBSCAN(eps=eps, min_samples=5).fit_predict(X)
    assert len(set(labels) - {-1}) == 4
    assert (labels == -1).mean() < 0.1  # observed 5.9 %
    assert adjusted_rand_score(y, labels) >= 0.9  # observed 0.916
    # sampling the query points gives a close value
    eps_s = choose_eps_kdistance(X, min_samples=5, random_state=0, sample_size=1000)
    assert eps_s == pytest.approx(eps, rel=0.25)
    # all-identical points still give a usable (positive) eps
    assert choose_eps_kdistance(np.zeros((20, 2)), 5, 42) > 0


def test_dbscan_matches_sklearn_when_not_sampled(blobs2d):
    X, _ = blobs2d
    labels, is_outlier, dist, info = dbscan_labels(X, 0.25, 8, **DBSCAN_KW)
    sk = DBSCAN(eps=0.25, min_samples=8).fit(X)
    np.testing.assert_array_equal(labels, sk.labels_)
    np.testing.assert_array_equal(is_outlier, sk.labels_ == -1)
    assert not info.sampled and info.n_fit == len(X) and info.eps_fit == info.eps == 0.25
    assert info.n_core_fit == sk.core_sample_indices_.size
    assert (dist[sk.core_sample_indices_] == 0).all()
    assert (dist[labels >= 0] <= 0.25).all() and (dist[is_outlier] > 0.25).all()


def test_cluster_customers_dbscan_equals_sklearn_up_to_renumbering(blobs2d):
    X, _ = blobs2d
    df = _dbscan_frame(X)
    out, info = cluster_customers(df, "dbscan", ["f1", "f2"], value_column="value", eps=None, min_samples=5)
    Xp = prepare_features(df, ["f1", "f2"], "zscore", ())
    sk = DBSCAN(eps=info.eps, min_samples=5).fit_predict(Xp)
    assert adjusted_rand_score(sk, out["cluster_id"]) == 1.0
    np.testing.assert_array_equal(out["is_outlier"].to_numpy(), sk == -1)
    np.testing.assert_array_equal(out["cluster_id"].to_numpy() == -1, sk == -1)


def test_dbscan_noise_kept_as_minus_one_and_flagged(blobs4):
    df, _ = blobs4
    far = pd.DataFrame(
        {"customer_id": [1, 2, 3], "f1": [60.0, -60.0, 0.0], "f2": [60.0, 0.0, -60.0], "f3": [0.0, 60.0, 60.0],
         "value": [1e6, 1e6, 1e6]}
    )
    data = pd.concat([df, far], ignore_index=True)
    out, info = cluster_customers(data, "dbscan", FEATURES, value_column="value", min_samples=5)
    planted = out[out["customer_id"].isin([1, 2, 3])]
    assert (planted["cluster_id"] == -1).all()
    assert planted["is_outlier"].all()
    assert (planted["value_tier"] == "Outlier").all()
    assert (out["is_outlier"] == (out["cluster_id"] == -1)).all()
    assert info.n_noise == int(out["is_outlier"].sum()) and info.n_clusters == 4
    # noise is not renumbered and does not take part in the ranking (its value is huge)
    clustered = out[out["cluster_id"] >= 0]
    assert sorted(clustered["cluster_id"].unique()) == [0, 1, 2, 3]
    assert -1 in set(info.cluster_profile["cluster_id"])
    # distance: to the nearest core point; noise is the farthest
    assert planted["distance"].min() > clustered["distance"].max()


def test_dbscan_sampled_path_agrees_with_full(blobs2d):
    X, y = blobs2d
    full, full_out, _, full_info = dbscan_labels(X, None, 5, **DBSCAN_KW)
    samp, samp_out, samp_dist, samp_info = dbscan_labels(X, None, 5, **{**DBSCAN_KW, "max_fit_size": 300})
    assert samp_info.sampled and samp_info.n_fit == 300
    assert not full_info.sampled
    assert samp_info.eps == full_info.eps  # eps is chosen on all rows either way
    assert samp_info.eps_fit > samp_info.eps  # the sparser sample needs a wider radius
    assert samp_info.n_clusters == full_info.n_clusters == 4
    ari = adjusted_rand_score(full, samp)
    assert ari >= 0.93  # observed 0.947
    assert (full_out == samp_out).mean() >= 0.95  # same outlier flag; observed 0.966
    assert adjusted_rand_score(y, samp) >= 0.93  # observed 0.951
    assert not np.isnan(samp_dist).any()
    # an explicit full-data eps is transferred to the sample the same way
    given, _, _, given_info = dbscan_labels(X, full_info.eps, 5, **{**DBSCAN_KW, "max_fit_size": 300})
    assert given_info.eps_source == "given" and given_info.sampled
    assert adjusted_rand_score(full, given) >= 0.93


def test_cluster_customers_reports_dbscan_sampling(blobs2d):
    X, _ = blobs2d
    df = _dbscan_frame(X)
    out, info = cluster_customers(df, "dbscan", ["f1", "f2"], value_column="value", max_fit_size=300)
    assert info.sampled and info.n_fit == 300 and info.eps_source == "k-distance"
    assert 0 < info.core_fraction <= 1
    assert len(out) == len(df)
    d = info.to_dict()
    json.dumps(d)  # JSON friendly
    assert d["sampled"] is True and d["n_fit"] == 300 and d["method"] == "dbscan"


# --------------------------------------------------------------------------- #
# cluster_customers: output shape and validation
# --------------------------------------------------------------------------- #
def test_output_columns_and_dtypes(blobs4):
    df, _ = blobs4
    out, _ = cluster_customers(df, "kmeans", FEATURES, value_column="value", k=3)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out["cluster_id"].dtype == np.int64
    assert out["distance"].dtype == np.float64
    assert out["is_outlier"].dtype == bool
    assert (out["method"] == "kmeans").all()
    assert out["customer_id"].tolist() == df["customer_id"].tolist()
    assert set(out["value_tier"]) == {"High", "Medium", "Low"}


@pytest.mark.parametrize("method", ["kmeans", "dbscan"])
def test_empty_frame_returns_empty_output(method):
    df = pd.DataFrame({"customer_id": pd.Series([], dtype="int64"), "f1": [], "value": []})
    out, info = cluster_customers(df, method, ["f1"], value_column="value")
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert len(out) == 0 and info.n_rows == 0
    assert out["cluster_id"].dtype == np.int64 and out["is_outlier"].dtype == bool
    assert out["distance"].dtype == np.float64 and out["customer_id"].dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(method="hdbscan"), "unknown method 'hdbscan'"),
        (dict(scaling="minmax"), "unknown scaling 'minmax'"),
        (dict(features=["f1", "zz", "yy"]), r"features missing from the DataFrame: \['zz', 'yy'\]"),
        (dict(value_column="revenue"), "value_column 'revenue' is not a column"),
        (dict(id_column="cust"), "id_column 'cust' is not a column"),
        (dict(log_features=["value"]), r"log_features must be a subset of features.*\['value'\]"),
        (dict(k=1), "k must be an integer >= 2"),
        (dict(k=True), "k must be an integer >= 2"),
        (dict(k=2.5), "k must be an integer >= 2"),
        (dict(method="dbscan", eps=0.0), "eps must be a positive"),
        (dict(method="dbscan", eps=-1), "eps must be a positive"),
        (dict(method="dbscan", min_samples=0), "min_samples must be an integer >= 1"),
        (dict(max_fit_size=0), "max_fit_size must be an integer >= 1"),
        (dict(tier_names=[]), "tier_names must name at least one column"),
        (dict(k_range=[1, 2]), "k_range values must be an integer >= 2"),
    ],
)
def test_cluster_customers_validation(blobs4, kwargs, message):
    df, _ = blobs4
    params = dict(method="kmeans", features=FEATURES, value_column="value")
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        cluster_customers(df, **params)


def test_cluster_customers_rejects_bad_ids_and_small_inputs(blobs4):
    df, _ = blobs4
    dup = df.copy()
    dup.loc[5, "customer_id"] = dup.loc[4, "customer_id"]
    with pytest.raises(ValueError, match="customer_id must be unique"):
        cluster_customers(dup, "kmeans", FEATURES, value_column="value")
    missing = df.astype({"customer_id": "float64"})
    missing.loc[0, "customer_id"] = np.nan
    with pytest.raises(ValueError, match="customer_id has 1 missing"):
        cluster_customers(missing, "kmeans", FEATURES, value_column="value")
    with pytest.raises(ValueError, match="k=5 is larger than the number of rows"):
        cluster_customers(df.head(4), "kmeans", FEATURES, value_column="value", k=5)
    with pytest.raises(ValueError, match="could not score any k"):
        cluster_customers(df.head(2), "kmeans", FEATURES, value_column="value")
    with pytest.raises(ValueError, match="min_samples=5 is larger"):
        cluster_customers(df.head(3), "dbscan", FEATURES, value_column="value")
    with pytest.raises(ValueError, match="df must be a pandas DataFrame"):
        cluster_customers(df.to_numpy(), "kmeans", FEATURES, value_column="value")


def test_string_ids_and_value_outside_features(blobs4):
    df, y = blobs4
    data = df.assign(customer_id="cust-" + df["customer_id"].astype(str))
    out, info = cluster_customers(data, "kmeans", ["f1", "f2"], value_column="f3", k=4, scaling="robust")
    assert out["customer_id"].tolist() == data["customer_id"].tolist()
    assert info.value_column == "f3" and info.scaling == "robust"
    assert adjusted_rand_score(y, out["cluster_id"]) >= 0.95


def test_cluster_customers_has_no_default_copy_of_a_setting():
    """Every setting cluster_customers (and the functions it passes them to) takes
    comes from run_settings via dbt_steps (its one default is in dbt_project.yml):
    none has a default in Python."""
    import inspect

    takes = {
        _cluster_customers: ["scaling", "log_features", "k", "k_range", "eps", "min_samples", "tier_names",
                             "random_state", "max_fit_size"],
        prepare_features: ["scaling", "log_features"],
        choose_k_silhouette: ["k_range", "random_state"],
        kmeans_labels: ["k", "random_state", "k_range", "max_fit_size"],
        choose_eps_kdistance: ["random_state"],
        dbscan_labels: ["eps", "min_samples", "random_state", "max_fit_size"],
        assign_value_tiers: ["tier_names"],
    }
    for fn, names in takes.items():
        params = inspect.signature(fn).parameters
        assert [n for n in names if params[n].default is not inspect.Parameter.empty] == [], fn.__name__


# --------------------------------------------------------------------------- #
# Silhouette: one distance pass for every k (issue 11)
# --------------------------------------------------------------------------- #
def _old_choose_k_scores(X, ks, random_state, sample_size, n_init=10):
    """The silhouette per k as choose_k_silhouette computed it before issue 11:
    sklearn's silhouette_score per k (its own distance pass each time) on the same
    seeded sample, under the same 64 MiB working memory."""
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(X.shape[0], size=sample_size, replace=False))
    Xs = X[idx]
    out = {}
    for k in ks:
        with threadpool_limits(limits=1, user_api="openmp"):  # as the old _fit_kmeans
            labels = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=random_state).fit(Xs).labels_
        with sklearn.config_context(working_memory=64):
            out[k] = float(silhouette_score(Xs, labels))
    return out


def test_choose_k_silhouette_equals_per_k_sklearn_silhouette_in_one_distance_pass(monkeypatch):
    """choose_k_silhouette's scores equal sklearn's silhouette_score per k bit for bit on
    a seeded 3,000-row sample of 4,000 rows (two 64 MiB distance chunks, by sklearn's
    own chunking rule), while the euclidean distances are computed once per chunk for
    all of k = 2..8 instead of once per k (the old path called pairwise_distances 7
    times as often)."""
    import sklearn.metrics.pairwise as skpw
    from sklearn.utils import gen_batches
    from sklearn.utils._chunking import get_chunk_n_rows

    X, _ = make_blobs(n_samples=4000, centers=5, n_features=3, cluster_std=1.5, random_state=7)
    ks = range(2, 9)
    expected = _old_choose_k_scores(X, ks, random_state=3, sample_size=3000)

    calls = []
    real = skpw.pairwise_distances

    def counting(*args, **kwargs):
        calls.append(args[0].shape[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(skpw, "pairwise_distances", counting)
    best, scores = choose_k_silhouette(X, ks, random_state=3, sample_size=3000)
    assert scores == expected  # exact float equality, every k
    assert best == max(expected, key=lambda k: (expected[k], -k))
    import sklearn

    with sklearn.config_context(working_memory=64):
        chunk_rows = get_chunk_n_rows(row_bytes=8 * 3000, max_n_rows=3000)
    assert len(calls) == len(list(gen_batches(3000, chunk_rows)))  # one pass, not one per k
    assert sum(calls) == 3000


def test_silhouette_scores_equal_sklearn_across_chunks_and_singletons(monkeypatch):
    """silhouette_scores over several distance chunks (working memory forced to 1 MiB)
    and with a size-1 cluster (silhouette 0 by convention) equals sklearn's
    silhouette_score under the same working memory, bit for bit."""
    import sklearn
    from sklearn.metrics import silhouette_score

    from segkit import clustering

    rng = np.random.default_rng(11)
    X = rng.normal(size=(1500, 4))
    labelings = {k: rng.integers(0, k, size=1500) for k in (2, 3, 5)}
    single = rng.integers(0, 3, size=1500)
    single[single == 2] = 1
    single[17] = 2  # cluster 2 is one row
    labelings[9] = single
    monkeypatch.setattr(clustering, "_WORKING_MEMORY_MB", 1)
    got = clustering.silhouette_scores(X, labelings)
    with sklearn.config_context(working_memory=1):
        expected = {key: float(silhouette_score(X, lab)) for key, lab in labelings.items()}
    assert got == expected
