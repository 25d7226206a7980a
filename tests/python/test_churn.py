"""Tests for segkit.churn and segkit.tier_change (small synthetic data with a
known signal, fast), called the way segkit.dbt_steps calls them: every setting
passed explicitly."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from segkit.churn import CHURN_SCORE_COLUMNS, DRIVER_COLUMNS, fit_churn_model, precision_at_top, risk_bands
from segkit.tier_change import TIER_PROBABILITY_COLUMNS, fit_tier_change_model

CHURN_FEATURES = ["tenure_months", "support_contacts", "noise_a", "noise_b", "noise_flag", "noise_region"]
SIGNAL = {"tenure_months", "support_contacts"}
TIER_FEATURES = ["usage_hours", "price_complaints", "tenure_months", "noise_a", "noise_b"]
PLANS = ["Basic", "Standard", "Premium"]
P_COLS = list(TIER_PROBABILITY_COLUMNS.values())
EDGES = (0.3, 0.6)
#: the settings dbt_steps passes (churn_model, churn_cv_folds, churn_random_state,
#: churn_max_train_rows, churn_importance_rows, churn_risk_band_edges)
CHURN_SETTINGS = dict(model="gradient_boosting", cv_folds=5, random_state=42, max_train_rows=100_000,
                      importance_rows=5_000, risk_band_edges=EDGES)
TIER_SETTINGS = dict(plan_order=PLANS, cv_folds=5, random_state=42, max_train_rows=100_000, importance_rows=5_000)


def churn(df, features=CHURN_FEATURES, label="churned", **kwargs):
    """fit_churn_model as churn_step calls it, with some settings changed."""
    return fit_churn_model(df, features, label, **{"categorical": ["noise_region"], **CHURN_SETTINGS, **kwargs})


def tier(df, **kwargs):
    """fit_tier_change_model as tier_change_step calls it, with some settings changed."""
    return fit_tier_change_model(df, TIER_FEATURES, "plan", "next_move", **{"categorical": [], **TIER_SETTINGS, **kwargs})


# --------------------------------------------------------------------------- #
# Synthetic data with a known signal
# --------------------------------------------------------------------------- #
def churn_frame(n: int = 2000, seed: int = 11) -> pd.DataFrame:
    """Churn depends on tenure (down) and support contacts (up) only; the rest is noise.

    ``true_p`` is the generating probability (not a feature).
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n).astype(float)
    support = rng.poisson(1.5, n).astype(float)
    p = expit(1.0 - 0.06 * tenure + 0.7 * (support - 1.5))
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "tenure_months": tenure,
            "support_contacts": support,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.uniform(size=n),
            "noise_flag": rng.random(n) < 0.5,
            "noise_region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    df["churned"] = rng.random(n) < p
    df["true_p"] = p
    return df


def tier_frame(n: int = 2500, seed: int = 3) -> pd.DataFrame:
    """Next move: upgrade driven by usage, downgrade by price complaints, churn by
    low tenure; no upgrade from Premium, no downgrade from Basic."""
    rng = np.random.default_rng(seed)
    plan_pos = rng.integers(0, 3, n)
    usage = rng.gamma(2.0, 5.0, n)
    complaints = rng.poisson(1.0, n).astype(float)
    tenure = rng.integers(1, 60, n).astype(float)
    s_up = np.where(plan_pos == 2, -np.inf, -2.0 + 0.15 * (usage - 10.0))
    s_down = np.where(plan_pos == 0, -np.inf, -2.0 + 0.9 * (complaints - 1.0))
    s_churn = -1.5 - 0.05 * (tenure - 30.0)
    S = np.column_stack([s_up, s_down, np.zeros(n), s_churn])
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    cls = np.minimum((P.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1), 3)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n) + 1,
            "plan": np.asarray(PLANS)[plan_pos],
            "usage_hours": usage,
            "price_complaints": complaints,
            "tenure_months": tenure,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "next_move": np.asarray(["upgrade", "downgrade", "none", "churn"])[cls],
        }
    )


@pytest.fixture(scope="module")
def churn_df() -> pd.DataFrame:
    return churn_frame()


@pytest.fixture(scope="module")
def gb_result(churn_df):
    return churn(churn_df)


@pytest.fixture(scope="module")
def logit_result(churn_df):
    return churn(churn_df, model="logistic")


@pytest.fixture(scope="module")
def tier_df() -> pd.DataFrame:
    return tier_frame()


@pytest.fixture(scope="module")
def tier_result(tier_df):
    return tier(tier_df)


def _driver_rank(drivers: pd.DataFrame) -> dict[str, int]:
    return dict(zip(drivers["feature"], drivers["rank"]))


# --------------------------------------------------------------------------- #
# Churn: snapshot mode (out-of-fold)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fixture", ["gb_result", "logit_result"])
def test_snapshot_scores_shape_and_range(request, churn_df, fixture):
    res = request.getfixturevalue(fixture)
    s = res.scores
    assert list(s.columns) == list(CHURN_SCORE_COLUMNS)
    assert len(s) == len(churn_df) and s["customer_id"].is_unique
    assert (s["customer_id"].to_numpy() == churn_df["customer_id"].to_numpy()).all()  # input order
    assert s["churn_probability"].between(0.0, 1.0).all()
    assert s["is_scored_out_of_fold"].all() and (s["split"] == "train").all()
    assert res.mode == "snapshot" and not res.sampled
    assert res.n_fit == 1600  # 4 of 5 folds
    m = res.metrics
    assert m["n_train"] == m["n_scored"] == 2000 and m["n_score_split"] == 0
    assert m["cv_folds"] == 5 and len(m["roc_auc_folds"]) == 5


def test_gradient_boosting_finds_the_signal(gb_result, churn_df):
    m = gb_result.metrics
    oracle = roc_auc_score(churn_df["churned"], churn_df["true_p"])  # 0.813 with the true probabilities
    # observed: roc_auc 0.794, precision_top_decile 0.750, base_rate 0.3035, lift 2.47
    assert m["roc_auc"] == pytest.approx(0.794, abs=0.03)
    assert oracle - 0.05 < m["roc_auc"] <= oracle + 0.01
    assert m["base_rate"] == pytest.approx(churn_df["churned"].mean())
    assert m["precision_top_decile"] > 0.68
    assert m["lift_top_decile"] == pytest.approx(m["precision_top_decile"] / m["base_rate"])
    assert m["lift_top_decile"] > 2.2


def test_logistic_finds_the_signal(logit_result, churn_df):
    m = logit_result.metrics
    # observed: roc_auc 0.810, precision_top_decile 0.810 (the true model is logistic)
    assert m["roc_auc"] == pytest.approx(0.810, abs=0.03)
    assert m["precision_top_decile"] > 0.72


@pytest.mark.parametrize("fixture", ["gb_result", "logit_result"])
def test_signal_features_rank_above_noise(request, fixture):
    drivers = request.getfixturevalue(fixture).drivers
    assert list(drivers.columns) == list(DRIVER_COLUMNS)
    assert sorted(drivers["rank"]) == list(range(1, len(CHURN_FEATURES) + 1))
    assert set(drivers["feature"]) == set(CHURN_FEATURES)
    rank = _driver_rank(drivers)
    assert rank["tenure_months"] == 1 and rank["support_contacts"] == 2
    imp = dict(zip(drivers["feature"], drivers["importance_mean"]))
    noise_max = max(v for k, v in imp.items() if k not in SIGNAL)
    assert imp["support_contacts"] > 0.05 > noise_max  # AUC drop; noise stays near 0


def test_same_input_gives_identical_output(churn_df, gb_result):
    again = churn(churn_df)
    pd.testing.assert_frame_equal(again.scores, gb_result.scores, check_exact=True)
    pd.testing.assert_frame_equal(again.drivers, gb_result.drivers, check_exact=True)
    assert again.metrics == gb_result.metrics
    assert again == gb_result  # settings fields


def test_output_does_not_depend_on_input_row_order(churn_df, gb_result):
    shuffled = churn_df.sample(frac=1.0, random_state=1)
    res = churn(shuffled)
    assert (res.scores["customer_id"].to_numpy() == shuffled["customer_id"].to_numpy()).all()
    a = res.scores.set_index("customer_id").sort_index()
    b = gb_result.scores.set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(res.drivers, gb_result.drivers, check_exact=True)


def test_random_state_changes_the_folds(churn_df, gb_result):
    res = churn(churn_df, random_state=7)
    assert not np.array_equal(res.scores["churn_probability"], gb_result.scores["churn_probability"])
    assert res.metrics["roc_auc"] == pytest.approx(gb_result.metrics["roc_auc"], abs=0.02)


def test_out_of_fold_scores_do_not_leak():
    """A unique id-like feature and pure-noise labels: a model scoring rows it was
    trained on memorises them (AUC ~0.72 here); out-of-fold scores stay at ~0.5."""
    rng = np.random.default_rng(5)
    n = 2000
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "row_key": rng.permutation(n).astype(float),
            "noise": rng.normal(size=n),
            "churned": rng.random(n) < 0.3,
        }
    )
    oof = churn(df, ["row_key", "noise"], categorical=[])
    assert oof.scores["is_scored_out_of_fold"].all()
    assert abs(oof.metrics["roc_auc"] - 0.5) < 0.04  # observed 0.505
    # the same rows scored by a model trained on all of them (temporal mode, each
    # customer once as a training row and once as a score row)
    both = pd.concat([df.assign(split="train"), df.assign(split="score")], ignore_index=True)
    in_sample = churn(both, ["row_key", "noise"], categorical=[])
    assert in_sample.metrics["score_split"]["roc_auc"] > 0.65  # observed 0.720
    assert not in_sample.scores.loc[in_sample.scores["split"] == "score", "is_scored_out_of_fold"].any()


def test_max_train_rows_samples_but_scores_everyone(churn_df):
    res = churn(churn_df, max_train_rows=500)
    # 2,000 rows, at most 500 per fit: 2 folds already leave 1,000 rows outside
    # each fold, so 2 folds are run (not the 5 asked) and each fold model still
    # fits a 500-row sample; importance on fold 0's 1,000 held-out rows
    assert (res.cv_folds, res.metrics["cv_folds"], res.metrics["cv_folds_requested"]) == (2, 2, 5)
    assert len(res.metrics["roc_auc_folds"]) == 2
    assert res.sampled and res.n_fit == 500 and res.metrics["n_importance"] == 1000
    assert len(res.scores) == len(churn_df) and res.scores["churn_probability"].notna().all()
    assert res.metrics["roc_auc"] > 0.72
    assert _driver_rank(res.drivers)["tenure_months"] == 1


@pytest.mark.parametrize("n_train, expected", [
    (2_000, 5),      # small: the folds asked
    (125_000, 5),    # 4 folds would leave 93,750 rows outside a fold
    (133_334, 4),    # 4 folds leave 100,000 (133,334 - 33,334)
    (168_232, 3),    # the 300k-customer bench: 2 folds leave 84,116, 3 leave 112,154
    (200_000, 2),    # 2 folds leave 100,000
    (560_000, 2),
])
def test_effective_folds_reduce_only_when_every_fold_model_keeps_a_full_sample(n_train, expected):
    """Fewer folds only above the size where each fold model is still fitted on
    max_train_rows = 100,000 rows (counts worked out by hand in the comments)."""
    from segkit._classifier import effective_folds

    assert effective_folds(n_train, 5, 100_000) == expected
    assert effective_folds(n_train, 2, 100_000) == 2  # never more than asked


def test_importance_runs_on_a_seeded_stratified_sample_of_the_set_size(churn_df, gb_result, tier_df, tier_result):
    """churn_importance_rows caps the held-out rows the drivers are computed on;
    the size is recorded, the sample is stratified and seeded."""
    assert gb_result.metrics["n_importance"] == 400  # fold 0's 400 held-out rows, below the cap
    res = churn(churn_df, importance_rows=150)
    assert (res.metrics["n_importance"], res.metrics["importance_rows"]) == (150, 150)
    # the scores do not depend on the importance sample
    assert res.scores.equals(gb_result.scores)
    assert not res.drivers.equals(gb_result.drivers)
    assert _driver_rank(res.drivers)["tenure_months"] <= 2
    again = churn(churn_df, importance_rows=150)
    assert again.drivers.equals(res.drivers)  # seeded
    tr = tier(tier_df, importance_rows=200)
    assert (tr.metrics["n_importance"], tier_result.metrics["n_importance"]) == (200, 500)
    assert tr.scores.equals(tier_result.scores)


def test_tier_folds_reduced_on_a_large_training_set(tier_df):
    res = tier(tier_df, max_train_rows=1_000)  # 2,500 rows: 2 folds leave 1,250 outside each
    assert (res.cv_folds, res.metrics["cv_folds"], res.metrics["cv_folds_requested"]) == (2, 2, 5)
    assert res.sampled and res.n_fit == 1_000
    assert res.metrics["roc_auc_ovr"]["upgrade"] > 0.75


# --------------------------------------------------------------------------- #
# Churn: temporal mode
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def temporal_frames(churn_df):
    df = churn_df.copy()
    df["split"] = np.where(np.arange(len(df)) % 4 == 0, "score", "train")
    truth = df["churned"].copy()
    df["churned"] = df["churned"].astype("boolean")
    df.loc[df["split"] == "score", "churned"] = pd.NA  # the future is unknown
    return df, truth


def test_temporal_one_frame(temporal_frames):
    df, _ = temporal_frames
    res = churn(df)
    s = res.scores
    assert res.mode == "temporal" and res.metrics["mode"] == "temporal"
    assert len(s) == len(df) and (s["split"].to_numpy() == df["split"].to_numpy()).all()
    train = s["split"] == "train"
    assert s.loc[train, "is_scored_out_of_fold"].all() and not s.loc[~train, "is_scored_out_of_fold"].any()
    assert s["churn_probability"].between(0, 1).all()
    m = res.metrics
    assert m["n_train"] == 1500 and m["n_score_split"] == 500 and m["n_scored"] == 2000
    assert m["score_split"] is None  # score rows have no label
    assert m["roc_auc"] > 0.74
    assert res.n_fit == 1500  # the final model sees every training row
    # the final model's scores rank the (hidden) outcomes too
    truth = df["churned"].isna()
    assert truth.sum() == 500


def test_temporal_score_labels_give_backtest_metrics_and_change_no_score(temporal_frames):
    df, truth = temporal_frames
    one = churn(df)
    two = churn(df.assign(churned=truth))  # the score rows' outcomes known (a backtest)
    pd.testing.assert_frame_equal(one.scores, two.scores, check_exact=True)
    bt = two.metrics["score_split"]  # labels given for the score rows: backtest metrics
    assert bt is not None and bt["roc_auc"] > 0.72  # observed 0.762
    assert bt["base_rate"] == pytest.approx(truth[df["split"] == "score"].mean())


def test_temporal_holdout_on_a_large_training_set(temporal_frames):
    """Temporal mode with n_train >= 2 * max_train_rows: the final model (fitted on
    a max_train_rows sample) is evaluated on a seeded stratified sample of
    max_train_rows training rows it never saw, instead of K fold models; the
    metrics are those of the flagged rows, recomputed here from the scores."""
    df, _ = temporal_frames
    labels = df["churned"]
    res = churn(df, max_train_rows=600)  # 1,500 training rows >= 2 x 600
    m, s = res.metrics, res.scores
    assert (m["validation"], m["cv_folds"], m["cv_folds_requested"]) == ("holdout", 1, 5)
    assert res.sampled and res.n_fit == 600 and m["n_evaluated"] == 600 and m["n_train"] == 1500
    train = (s["split"] == "train").to_numpy()
    held = s["is_scored_out_of_fold"].to_numpy()
    assert held[train].sum() == 600 and not held[~train].any()
    assert s.loc[train & ~held, "churn_probability"].isna().all()  # fitted on or not evaluated
    assert s.loc[held | ~train, "churn_probability"].between(0, 1).all()
    y = labels[held].astype(bool).to_numpy()
    p = s.loc[held, "churn_probability"].to_numpy()
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["base_rate"] == pytest.approx(y.mean())
    assert abs(y.mean() - labels[train].astype(bool).mean()) < 0.01  # stratified
    assert m["roc_auc"] > 0.72 and len(m["roc_auc_folds"]) == 1
    assert _driver_rank(res.drivers)["tenure_months"] <= 2
    again = churn(df, max_train_rows=600)
    pd.testing.assert_frame_equal(again.scores, s, check_exact=True)
    assert again.drivers.equals(res.drivers)
    # just below the size (1,500 < 2 x 800): cross-validation as before
    cv = churn(df, max_train_rows=800)
    assert cv.metrics["validation"] == "cross_validation" and cv.metrics["cv_folds"] == 3  # effective_folds
    assert cv.metrics["n_evaluated"] == 1500 and cv.scores.loc[train, "is_scored_out_of_fold"].all()


def test_tier_temporal_holdout_on_a_large_training_set(tier_df):
    df = tier_df.assign(split=np.where(np.arange(len(tier_df)) % 4 == 0, "score", "train"))
    truth = df["next_move"].copy()
    df.loc[df["split"] == "score", "next_move"] = None
    res = tier(df, max_train_rows=900)  # 1,875 training rows >= 2 x 900
    m, s = res.metrics, res.scores
    assert (m["validation"], m["cv_folds"], m["n_evaluated"], res.n_fit) == ("holdout", 1, 900, 900)
    held = s["is_scored_out_of_fold"].to_numpy()
    score = (s["split"] == "score").to_numpy()
    assert held.sum() == 900 and not held[score].any()
    assert np.allclose(s.loc[held | score, P_COLS].sum(axis=1), 1.0)
    up = (truth[held] == "upgrade").to_numpy()
    assert m["roc_auc_ovr"]["upgrade"] == pytest.approx(roc_auc_score(up, s.loc[held, "p_upgrade"]), abs=1e-12)
    assert m["roc_auc_ovr"]["upgrade"] > 0.75 and m["n_importance"] == 900


def test_temporal_single_fold_from_a_size_keeps_scores_and_drivers(temporal_frames, tier_df, monkeypatch):
    """Temporal mode from SINGLE_FOLD_MIN_TRAIN training rows (lowered here to
    1,000; the 1,500 training rows are below 2 x max_train_rows): only fold 0 of
    the K folds is fitted; the score rows' probabilities and the drivers are
    exactly those of the K-fold run, the metrics those of fold 0's rows
    (recomputed here from the flagged rows), the other training rows NaN."""
    from sklearn.model_selection import StratifiedKFold

    import segkit._classifier as clf

    df, _ = temporal_frames
    labels = df["churned"]
    full = churn(df)  # cross-validation, 5 folds
    monkeypatch.setattr(clf, "SINGLE_FOLD_MIN_TRAIN", 1_000)
    res = churn(df)
    m, s = res.metrics, res.scores
    assert (m["validation"], m["cv_folds"], m["cv_folds_requested"], full.metrics["validation"]) == (
        "single_fold", 1, 5, "cross_validation")
    score = (s["split"] == "score").to_numpy()
    pd.testing.assert_frame_equal(s[score], full.scores[score], check_exact=True)
    pd.testing.assert_frame_equal(res.drivers, full.drivers, check_exact=True)
    # fold 0 of StratifiedKFold(5, shuffle, 42) over the training rows in id order
    train = df[df["split"] == "train"].sort_values("customer_id")
    held_pos = next(iter(StratifiedKFold(5, shuffle=True, random_state=42).split(
        np.zeros((len(train), 1)), train["churned"].astype(bool).to_numpy())))[1]
    held_ids = set(train["customer_id"].iloc[held_pos])
    held = s["is_scored_out_of_fold"].to_numpy()
    assert set(s.loc[held, "customer_id"]) == held_ids and m["n_evaluated"] == len(held_ids) == 300
    assert s.loc[~held & ~score, "churn_probability"].isna().all()
    # fold 0's model is the same: its rows keep their K-fold probabilities
    np.testing.assert_array_equal(s.loc[held, "churn_probability"], full.scores.loc[held, "churn_probability"])
    y = labels[held].astype(bool).to_numpy()
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s.loc[held, "churn_probability"]), abs=1e-12)
    assert m["roc_auc"] > 0.7 and len(m["roc_auc_folds"]) == 1
    # the tier-change model: the same rule
    tdf = tier_df.assign(split=np.where(np.arange(len(tier_df)) % 4 == 0, "score", "train"))
    tdf.loc[tdf["split"] == "score", "next_move"] = None
    t1 = tier(tdf)
    monkeypatch.setattr(clf, "SINGLE_FOLD_MIN_TRAIN", 10**9)
    t5 = tier(tdf)
    assert (t1.metrics["validation"], t5.metrics["validation"]) == ("single_fold", "cross_validation")
    tscore = (t1.scores["split"] == "score").to_numpy()
    pd.testing.assert_frame_equal(t1.scores[tscore], t5.scores[tscore], check_exact=True)
    pd.testing.assert_frame_equal(t1.drivers, t5.drivers, check_exact=True)
    assert t1.metrics["n_evaluated"] == t1.scores["is_scored_out_of_fold"].sum() == 375  # 1,875 / 5


def test_temporal_same_customer_in_both_splits(churn_df):
    train = churn_df.iloc[:1000]
    later = churn_df.iloc[:1000].drop(columns="churned").assign(tenure_months=lambda d: d["tenure_months"] + 3)
    res = churn(pd.concat([train.assign(split="train"), later.assign(split="score")], ignore_index=True))
    assert len(res.scores) == 2000
    assert res.scores.groupby("split")["customer_id"].apply(lambda s: s.is_unique).all()


def test_temporal_unseen_category_and_empty_score_split(churn_df):
    train = churn_df.iloc[:1200].assign(split="train")
    score = churn_df.iloc[1200:1300].assign(noise_region="mars", split="score")  # never seen in training
    res = churn(pd.concat([train, score], ignore_index=True))
    assert res.scores.loc[res.scores["split"] == "score", "churn_probability"].between(0, 1).all()
    empty = churn(train)
    assert empty.mode == "temporal" and empty.metrics["n_score_split"] == 0 and len(empty.scores) == 1200


# --------------------------------------------------------------------------- #
# Inputs of several kinds
# --------------------------------------------------------------------------- #
def test_missing_values_booleans_and_label_encodings(churn_df):
    df = churn_df.iloc[:1000].copy()
    df.loc[df.index[::7], "tenure_months"] = np.nan
    df["noise_region"] = df["noise_region"].where(df.index % 11 != 0, None)
    df["noise_flag"] = df["noise_flag"].astype("boolean")
    df.loc[df.index[::13], "noise_flag"] = pd.NA
    df["churned"] = np.where(churn_df["churned"].iloc[:1000], "Yes", "No")
    for model in ("gradient_boosting", "logistic"):
        res = churn(df, model=model, cv_folds=3)
        assert res.scores["churn_probability"].between(0, 1).all()
        assert res.metrics["roc_auc"] > 0.7
        assert res.metrics["base_rate"] == pytest.approx((df["churned"] == "Yes").mean())


def test_to_dict_is_json(gb_result, tier_result):
    for res in (gb_result, tier_result):
        d = res.to_dict()
        text = json.dumps(d)
        assert "scores" not in d and json.loads(text)["drivers"]
    assert gb_result.to_dict()["metrics"]["roc_auc"] == pytest.approx(gb_result.metrics["roc_auc"])


# --------------------------------------------------------------------------- #
# risk_bands and precision_at_top
# --------------------------------------------------------------------------- #
def test_risk_bands_fixed_left_closed_edges():
    p = [0.0, 0.29999, 0.3, 0.59, 0.6, 1.0, np.nan]
    out = risk_bands(p, EDGES)
    assert list(out) == ["Low", "Low", "Medium", "Medium", "High", "High", None]
    other = risk_bands([0.05, 0.1, 0.5, 0.9], (0.1, 0.9))
    assert list(other) == ["Low", "Medium", "Medium", "High"]


def test_result_bands_match_probabilities(gb_result):
    s = gb_result.scores
    expected = risk_bands(s["churn_probability"].to_numpy(), EDGES)
    assert (s["risk_band"].to_numpy(dtype=object) == expected).all()
    assert set(s["risk_band"]) == {"Low", "Medium", "High"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(probabilities=[1.2]), "probabilities must lie in"),
        (dict(probabilities=[0.2], edges=(0.6, 0.3)), "strictly increasing"),
        (dict(probabilities=[0.2], edges=(0.3, 1.5)), r"edges must lie in \[0, 1\]"),
        (dict(probabilities=[0.2], edges=(0.3,)), "edges must hold 2 probabilities"),
        (dict(probabilities=[[0.2]]), "one-dimensional"),
    ],
)
def test_risk_bands_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        risk_bands(**{"edges": EDGES, **kwargs})


def test_precision_at_top_counts_ties_fractionally():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    s = np.linspace(1.0, 0.0, 20)
    assert precision_at_top(y, s) == pytest.approx(0.5)  # top 2 of 20: one churner
    tied = np.r_[[0.9, 0.9, 0.9, 0.9], np.zeros(16)]
    y2 = np.r_[[1, 0, 0, 0], np.zeros(16)]
    # the 4 tied rows fill the 2 places with their rate 1/4, whatever their order
    assert precision_at_top(y2, tied) == pytest.approx(0.25)
    assert precision_at_top(y2[::-1], tied[::-1]) == pytest.approx(0.25)


# --------------------------------------------------------------------------- #
# Tier change
# --------------------------------------------------------------------------- #
def test_tier_probabilities(tier_result, tier_df):
    s = tier_result.scores
    assert list(s.columns) == ["customer_id", "split", "from_plan", *P_COLS, "is_scored_out_of_fold"]
    assert len(s) == len(tier_df) and s["customer_id"].is_unique
    P = s[P_COLS].to_numpy()
    assert ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
    assert (s["p_upgrade"] + s["p_downgrade"] <= 1.0 + 1e-12).all()
    # plan_order: no upgrade from the top plan, no downgrade from the bottom plan
    assert (s.loc[s["from_plan"] == "Premium", "p_upgrade"] == 0).all()
    assert (s.loc[s["from_plan"] == "Basic", "p_downgrade"] == 0).all()
    assert (s.loc[s["from_plan"] == "Standard", ["p_upgrade", "p_downgrade"]] > 0).all().all()
    assert tier_result.classes == ("upgrade", "downgrade", "none", "churn")


def test_tier_metrics_and_drivers(tier_result):
    m = tier_result.metrics
    # observed one-vs-rest AUC: upgrade 0.825, downgrade 0.824, churn 0.656; upgrade lift 4.18
    assert m["roc_auc_ovr"]["upgrade"] > 0.78
    assert m["roc_auc_ovr"]["downgrade"] > 0.73
    assert m["roc_auc_ovr"]["churn"] > 0.6
    assert m["lift_top_decile"]["upgrade"] > 3.0
    assert m["driver_targets"] == ["upgrade", "downgrade"]
    d = tier_result.drivers
    assert list(d.columns) == ["target", *DRIVER_COLUMNS]
    up = _driver_rank(d[d["target"] == "upgrade"])
    down = _driver_rank(d[d["target"] == "downgrade"])
    # the plan matters structurally (no upgrade from Premium); after it, the behavioural driver
    assert up["usage_hours"] <= 2 and all(up["usage_hours"] < up[f] for f in ("price_complaints", "noise_a", "noise_b"))
    assert down["price_complaints"] <= 2 and all(
        down["price_complaints"] < down[f] for f in ("usage_hours", "noise_a", "noise_b")
    )


def test_tier_determinism(tier_df, tier_result):
    again = tier(tier_df)
    pd.testing.assert_frame_equal(again.scores, tier_result.scores, check_exact=True)
    pd.testing.assert_frame_equal(again.drivers, tier_result.drivers, check_exact=True)


def test_tier_absent_class_and_temporal(tier_df):
    df = tier_df[tier_df["next_move"] != "churn"].copy()
    df["split"] = np.where(np.arange(len(df)) % 5 == 0, "score", "train")
    df.loc[df["split"] == "score", "next_move"] = None
    res = tier(df, cv_folds=3)
    assert res.classes == ("upgrade", "downgrade", "none")
    assert (res.scores["p_churn"] == 0).all()
    np.testing.assert_allclose(res.scores[P_COLS].sum(axis=1), 1.0, atol=1e-9)
    assert res.mode == "temporal" and res.metrics["n_score_split"] == (df["split"] == "score").sum()
    assert not res.scores.loc[res.scores["split"] == "score", "is_scored_out_of_fold"].any()


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        (lambda d: d.assign(next_move="stay"), {}, "must hold"),
        (lambda d: d.assign(next_move="none"), {}, "single class"),
        (lambda d: d, dict(plan_order=["Basic", "Standard"]),
         r"not in plan_order \(var tier_plan_order: \['Basic', 'Standard'\]\): \['Premium'\]\. Fix: .*"
         r"tier_plan_order: \['Basic', 'Standard', 'Premium'\]"),
        (lambda d: d.assign(next_move=np.where(d["plan"] == "Premium", "upgrade", d["next_move"])),
         dict(plan_order=PLANS), r"contradicts plan_order \(var tier_plan_order\).*Fix: "),
        (lambda d: d, dict(plan_order=["Basic"]), "at least two plans"),
    ],
)
def test_tier_validation(tier_df, change, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tier(change(tier_df.iloc[:300].copy()), **kwargs)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _small(churn_df: pd.DataFrame) -> pd.DataFrame:
    return churn_df.iloc[:200].copy()


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        (lambda d: d.iloc[:0], {}, "no training rows"),
        (lambda d: d.assign(churned=False), {}, "single class"),
        (lambda d: d.assign(churned=np.r_[[True] * 3, [False] * 197]), {}, r"at least cv_folds=5"),
        (lambda d: d.assign(churned=d["churned"].astype(object).where(d.index > 0, None)), {}, "missing value"),
        (lambda d: d.assign(churned=2 * d["churned"].astype(int)), {}, "boolean or 0/1"),
        (lambda d: d.assign(churned="maybe"), {}, "yes/no/true/false"),
        (lambda d: d.assign(customer_id="same"), {}, "must be unique"),
        (lambda d: d.assign(customer_id=None), {}, "missing value"),
        (lambda d: d.drop(columns="noise_a"), {}, "columns missing from df"),
        (lambda d: d, dict(label="nope"), "label 'nope' is not a column"),
        (lambda d: d, dict(categorical=[]), "not numeric or boolean"),
        (lambda d: d.assign(noise_a=np.inf), {}, "infinite"),
        (lambda d: d, dict(model="forest"), "unknown model"),
        (lambda d: d, dict(cv_folds=1), "cv_folds must be an integer >= 2"),
        (lambda d: d, dict(random_state=-1), "random_state"),
        (lambda d: d, dict(max_train_rows=0), "max_train_rows"),
        (lambda d: d, dict(features="tenure_months"), "not a single string"),
        (lambda d: d, dict(features=[*CHURN_FEATURES, "churned"]), "cannot also be a feature"),
        (lambda d: d.assign(split="later"), {}, "must hold 'train' or 'score'"),
        (lambda d: d, dict(risk_band_edges=(0.5, 0.2)), "strictly increasing"),
    ],
)
def test_churn_validation(churn_df, change, kwargs, message):
    with pytest.raises(ValueError, match=message):
        churn(change(_small(churn_df)), **kwargs)


def test_churn_refuses_a_frame_that_is_not_a_dataframe(churn_df):
    with pytest.raises(ValueError, match="df must be a pandas DataFrame"):
        churn(_small(churn_df).to_dict())


# --------------------------------------------------------------------------- #
# Settings come from run_settings only
# --------------------------------------------------------------------------- #
def test_model_functions_take_what_the_warehouse_passes_and_default_no_setting():
    """dbt_steps passes the frame, features, label and these settings; none has a
    default copy in Python (the one default is in dbt_project.yml)."""
    churn_params = inspect.signature(fit_churn_model).parameters
    assert list(churn_params) == ["df", "features", "label", "categorical", "model", "cv_folds", "random_state",
                                  "max_train_rows", "importance_rows", "risk_band_edges"]
    tier_params = inspect.signature(fit_tier_change_model).parameters
    assert list(tier_params) == ["df", "features", "from_plan", "label", "categorical", "plan_order", "cv_folds",
                                 "random_state", "max_train_rows", "importance_rows"]
    for params in (churn_params, tier_params):
        assert [p.name for p in params.values() if p.default is not inspect.Parameter.empty] == []
    assert [p.name for p in inspect.signature(risk_bands).parameters.values()
            if p.default is not inspect.Parameter.empty] == []


# --------------------------------------------------------------------------- #
# Permutation importance: the tree-reuse computation equals sklearn's
# --------------------------------------------------------------------------- #
def test_fast_permutation_importance_equals_sklearn_bit_for_bit(churn_df, tier_df):
    """_fast_tree_permutation (rows transformed once, only the trees that split on a
    permuted column predicted again) gives sklearn's permutation_importance
    exactly: binary AUC on the decision function, and the tier-change
    one-vs-rest scorer on predict_proba, with NaNs and a one-hot column."""
    from sklearn.inspection import permutation_importance

    from segkit._classifier import IMPORTANCE_REPEATS, _fast_tree_permutation, _make_pipeline, _prepare
    from segkit.churn import _parse_binary_label
    from segkit.tier_change import _ovr_auc_scorer, _parse_tier_label

    df = churn_df.copy()
    df.loc[df.index[::9], "tenure_months"] = np.nan
    fr = _prepare(df, CHURN_FEATURES, ["noise_region"], "churned", _parse_binary_label)
    y = fr.y.astype(np.int64)
    pipe = _make_pipeline("gradient_boosting", fr.numeric, fr.categorical, 42, 1500)
    pipe = pipe.set_params(model__max_iter=40).fit(fr.X.iloc[:1500], y[:1500])  # fewer trees: a fast test
    Xh, yh = fr.X.iloc[1600:], y[1600:]
    ref = permutation_importance(pipe, Xh, yh, scoring="roc_auc", n_repeats=IMPORTANCE_REPEATS, random_state=42)
    got = _fast_tree_permutation(pipe, Xh, yh, "roc_auc", 42)
    np.testing.assert_array_equal(got.importances, ref.importances)
    np.testing.assert_array_equal(got.importances_mean, ref.importances_mean)
    np.testing.assert_array_equal(got.importances_std, ref.importances_std)
    assert (np.abs(ref.importances) > 0).sum() > 10  # not a degenerate comparison

    cols = [*TIER_FEATURES, "plan"]
    tf = _prepare(tier_df, cols, ["plan"], "next_move", _parse_tier_label)
    codes = tf.y.astype(np.int64)
    present = np.unique(codes)
    dense = np.searchsorted(present, codes)
    pipe = _make_pipeline("gradient_boosting", tf.numeric, tf.categorical, 42, 2000)
    pipe = pipe.set_params(model__max_iter=25).fit(tf.X.iloc[:2000], dense[:2000])
    scorer = _ovr_auc_scorer([0, 1], ["upgrade", "downgrade"])
    Xh, yh = tf.X.iloc[2100:], dense[2100:]
    ref = permutation_importance(pipe, Xh, yh, scoring=scorer, n_repeats=IMPORTANCE_REPEATS, random_state=7)
    got = _fast_tree_permutation(pipe, Xh, yh, scorer, 7)
    assert set(got) == set(ref) == {"upgrade", "downgrade"}
    for key in ref:
        np.testing.assert_array_equal(got[key].importances, ref[key].importances)
        np.testing.assert_array_equal(got[key].importances_std, ref[key].importances_std)
    assert (np.abs(ref["upgrade"].importances) > 0).sum() > 10


def test_binned_prediction_equals_sklearn_predict_proba_bit_for_bit(churn_df, tier_df):
    """_predict_proba walks the gradient-boosting trees on binned rows; it returns
    pipe.predict_proba exactly: binary and four-class models, with NaNs, a value on
    every bin threshold of every numeric column (the boundary where a bin and a
    float comparison could disagree), values just above them, +-inf, a category the
    model never saw, and more rows than one batch. The logistic pipeline goes
    through sklearn unchanged."""
    from segkit import _classifier
    from segkit._classifier import _binned_trees, _make_pipeline, _predict_proba, _prepare
    from segkit.churn import _parse_binary_label
    from segkit.tier_change import _parse_tier_label

    def edge_rows(pipe, X):
        """X's rows, then rows whose numeric values sit on, and just above, the bin thresholds."""
        model = pipe.named_steps["model"]
        numeric = [c for c in X.columns if c in pipe.named_steps["prepare"].transformers_[0][2]]
        extra = []
        for j, col in enumerate(numeric):  # the numeric columns come first in the transform
            for t in model._bin_mapper.bin_thresholds_[j]:
                for v in (t, np.nextafter(t, np.inf)):
                    row = X.iloc[len(extra) % len(X)].copy()
                    row[col] = v
                    extra.append(row)
        for v in (np.inf, -np.inf):
            row = X.iloc[0].copy()
            row[numeric] = v
            extra.append(row)
        return pd.concat([X, pd.DataFrame(extra).astype(X.dtypes.to_dict())], ignore_index=True)

    df = churn_df.copy()
    df.loc[df.index[::9], "tenure_months"] = np.nan
    fr = _prepare(df, CHURN_FEATURES, ["noise_region"], "churned", _parse_binary_label)
    y = fr.y.astype(np.int64)
    pipe = _make_pipeline("gradient_boosting", fr.numeric, fr.categorical, 42, 1500)
    pipe = pipe.set_params(model__max_iter=40).fit(fr.X.iloc[:1500], y[:1500])
    X = edge_rows(pipe, fr.X)
    X.loc[X.index[-1], "noise_region"] = 10_000  # a category code the encoder never saw
    assert _binned_trees(pipe) is not None
    rows = np.arange(len(X))
    want = np.clip(pipe.predict_proba(X), 0.0, 1.0)
    np.testing.assert_array_equal(_predict_proba(pipe, X, rows, 2), want)
    assert len(X) > 2 * 1500 and np.isnan(X["tenure_months"]).any()
    batch = _classifier.BATCH_SIZE
    try:  # several batches
        _classifier.BATCH_SIZE = 700
        np.testing.assert_array_equal(_predict_proba(pipe, X, rows[::-1], 2), want[::-1])
    finally:
        _classifier.BATCH_SIZE = batch

    cols = [*TIER_FEATURES, "plan"]
    tf = _prepare(tier_df, cols, ["plan"], "next_move", _parse_tier_label)
    dense = np.searchsorted(np.unique(tf.y.astype(np.int64)), tf.y.astype(np.int64))
    pipe = _make_pipeline("gradient_boosting", tf.numeric, tf.categorical, 42, 2000)
    pipe = pipe.set_params(model__max_iter=25).fit(tf.X.iloc[:2000], dense[:2000])
    X = edge_rows(pipe, tf.X)
    k = pipe.named_steps["model"].n_trees_per_iteration_
    assert k >= 3
    np.testing.assert_array_equal(_predict_proba(pipe, X, np.arange(len(X)), k),
                                  np.clip(pipe.predict_proba(X), 0.0, 1.0))

    logit = _make_pipeline("logistic", fr.numeric, fr.categorical, 42, 1500).fit(fr.X.iloc[:1500], y[:1500])
    assert _binned_trees(logit) is None
    np.testing.assert_array_equal(_predict_proba(logit, fr.X, np.arange(len(fr.X)), 2),
                                  np.clip(logit.predict_proba(fr.X), 0.0, 1.0))


def test_categorical_codes_give_the_string_one_hot_model(churn_df):
    """_prepare hands the one-hot encoder integer codes in sorted-name order (numpy
    counts them; a Python Counter over strings was ~10% of a step at 300k); the
    fitted model's probabilities equal those of a model fitted on the names."""
    from segkit._classifier import MISSING_CATEGORY, _make_pipeline, _prepare
    from segkit.churn import _parse_binary_label

    df = churn_df.copy()
    df["noise_region"] = df["noise_region"].where(df.index % 13 != 0, None)
    df.loc[df.index[1900:], "noise_region"] = "zz_unseen"  # only in the scored rows
    fr = _prepare(df, CHURN_FEATURES, ["noise_region"], "churned", _parse_binary_label)
    codes = fr.X["noise_region"]
    assert codes.dtype == np.int64
    order = np.argsort(df["customer_id"].to_numpy(), kind="stable")
    names = df["noise_region"].fillna(MISSING_CATEGORY).to_numpy()[order]
    sorted_names = np.array(sorted(set(names)), dtype=object)
    np.testing.assert_array_equal(sorted_names[codes.to_numpy()], names)
    y = fr.y.astype(np.int64)
    as_names = fr.X.assign(noise_region=names)
    a = _make_pipeline("gradient_boosting", fr.numeric, fr.categorical, 42, 1900).fit(fr.X.iloc[:1900], y[:1900])
    b = _make_pipeline("gradient_boosting", fr.numeric, fr.categorical, 42, 1900).fit(as_names.iloc[:1900], y[:1900])
    np.testing.assert_array_equal(a.predict_proba(fr.X), b.predict_proba(as_names))
