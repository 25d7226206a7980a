"""Tests for segkit.churn (small synthetic data with a known signal, fast)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from segkit.churn import (
    CHURN_SCORE_COLUMNS,
    DRIVER_COLUMNS,
    TIER_PROBABILITY_COLUMNS,
    fit_churn_model,
    fit_tier_change_model,
    precision_at_top,
    risk_bands,
)

CHURN_FEATURES = ["tenure_months", "support_contacts", "noise_a", "noise_b", "noise_flag", "noise_region"]
SIGNAL = {"tenure_months", "support_contacts"}
TIER_FEATURES = ["usage_hours", "price_complaints", "tenure_months", "noise_a", "noise_b"]
PLANS = ["Basic", "Standard", "Premium"]
P_COLS = list(TIER_PROBABILITY_COLUMNS.values())


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
    return fit_churn_model(churn_df, CHURN_FEATURES, "churned", categorical=["noise_region"])


@pytest.fixture(scope="module")
def logit_result(churn_df):
    return fit_churn_model(churn_df, CHURN_FEATURES, "churned", categorical=["noise_region"], model="logistic")


@pytest.fixture(scope="module")
def tier_df() -> pd.DataFrame:
    return tier_frame()


@pytest.fixture(scope="module")
def tier_result(tier_df):
    return fit_tier_change_model(tier_df, TIER_FEATURES, "plan", "next_move", plan_order=PLANS)


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
    again = fit_churn_model(churn_df, CHURN_FEATURES, "churned", categorical=["noise_region"])
    pd.testing.assert_frame_equal(again.scores, gb_result.scores, check_exact=True)
    pd.testing.assert_frame_equal(again.drivers, gb_result.drivers, check_exact=True)
    assert again.metrics == gb_result.metrics
    assert again == gb_result  # settings fields


def test_output_does_not_depend_on_input_row_order(churn_df, gb_result):
    shuffled = churn_df.sample(frac=1.0, random_state=1)
    res = fit_churn_model(shuffled, CHURN_FEATURES, "churned", categorical=["noise_region"])
    assert (res.scores["customer_id"].to_numpy() == shuffled["customer_id"].to_numpy()).all()
    a = res.scores.set_index("customer_id").sort_index()
    b = gb_result.scores.set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(res.drivers, gb_result.drivers, check_exact=True)


def test_random_state_changes_the_folds(churn_df, gb_result):
    res = fit_churn_model(churn_df, CHURN_FEATURES, "churned", categorical=["noise_region"], random_state=7)
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
    oof = fit_churn_model(df, ["row_key", "noise"], "churned")
    assert oof.scores["is_scored_out_of_fold"].all()
    assert abs(oof.metrics["roc_auc"] - 0.5) < 0.04  # observed 0.505
    # the same rows scored by a model trained on all of them (temporal mode, score_df = df)
    in_sample = fit_churn_model(df, ["row_key", "noise"], "churned", score_df=df)
    assert in_sample.metrics["score_split"]["roc_auc"] > 0.65  # observed 0.720
    assert not in_sample.scores.loc[in_sample.scores["split"] == "score", "is_scored_out_of_fold"].any()


def test_max_train_rows_samples_but_scores_everyone(churn_df):
    res = fit_churn_model(
        churn_df, CHURN_FEATURES, "churned", categorical=["noise_region"], max_train_rows=500,
        importance_rows=300,
    )
    assert res.sampled and res.n_fit == 500 and res.metrics["n_importance"] == 300
    assert len(res.scores) == len(churn_df) and res.scores["churn_probability"].notna().all()
    assert res.metrics["roc_auc"] > 0.72
    assert _driver_rank(res.drivers)["tenure_months"] == 1


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
    res = fit_churn_model(df, CHURN_FEATURES, "churned", categorical=["noise_region"])
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


def test_temporal_two_frames_equal_one_frame_and_backtest(temporal_frames):
    df, truth = temporal_frames
    one = fit_churn_model(df, CHURN_FEATURES, "churned", categorical=["noise_region"])
    train = df[df["split"] == "train"].drop(columns="split")
    score = df[df["split"] == "score"].drop(columns="split").assign(churned=truth[df["split"] == "score"])
    two = fit_churn_model(train, CHURN_FEATURES, "churned", categorical=["noise_region"], score_df=score)
    assert list(two.scores["split"]) == ["train"] * 1500 + ["score"] * 500  # df rows, then score_df rows
    key = ["split", "customer_id"]
    a = one.scores.sort_values(key).reset_index(drop=True)
    b = two.scores.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    bt = two.metrics["score_split"]  # labels given for the score rows: backtest metrics
    assert bt is not None and bt["roc_auc"] > 0.72  # observed 0.762
    assert bt["base_rate"] == pytest.approx(truth[df["split"] == "score"].mean())


def test_temporal_same_customer_in_both_splits(churn_df):
    train = churn_df.iloc[:1000]
    later = churn_df.iloc[:1000].drop(columns="churned").assign(tenure_months=lambda d: d["tenure_months"] + 3)
    res = fit_churn_model(train, CHURN_FEATURES, "churned", categorical=["noise_region"], score_df=later)
    assert len(res.scores) == 2000
    assert res.scores.groupby("split")["customer_id"].apply(lambda s: s.is_unique).all()


def test_temporal_unseen_category_and_empty_score_split(churn_df):
    train = churn_df.iloc[:1200]
    score = churn_df.iloc[1200:1300].assign(noise_region="mars")  # never seen in training
    res = fit_churn_model(train, CHURN_FEATURES, "churned", categorical=["noise_region"], score_df=score)
    assert res.scores.loc[res.scores["split"] == "score", "churn_probability"].between(0, 1).all()
    empty = fit_churn_model(train, CHURN_FEATURES, "churned", categorical=["noise_region"], score_df=score.iloc[:0])
    assert empty.metrics["n_score_split"] == 0 and len(empty.scores) == 1200


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
        res = fit_churn_model(df, CHURN_FEATURES, "churned", categorical=["noise_region"], model=model, cv_folds=3)
        assert res.scores["churn_probability"].between(0, 1).all()
        assert res.metrics["roc_auc"] > 0.7
        assert res.metrics["base_rate"] == pytest.approx((df["churned"] == "Yes").mean())


def test_to_dict_is_json(gb_result, tier_result):
    for res in (gb_result, tier_result):
        d = res.to_dict()
        text = json.dumps(d)
        assert "scores" not in d and json.loads(text)["drivers"]
        row = res.to_frame()
        assert len(row) == 1 and json.loads(row.loc[0, "metrics"]) == json.loads(text)["metrics"]
    assert gb_result.to_dict()["metrics"]["roc_auc"] == pytest.approx(gb_result.metrics["roc_auc"])


# --------------------------------------------------------------------------- #
# risk_bands and precision_at_top
# --------------------------------------------------------------------------- #
def test_risk_bands_fixed_left_closed_edges():
    p = [0.0, 0.29999, 0.3, 0.59, 0.6, 1.0, np.nan]
    out = risk_bands(p)
    assert list(out) == ["Low", "Low", "Medium", "Medium", "High", "High", None]
    custom = risk_bands([0.05, 0.1, 0.5], edges=(0.1,), labels=("ok", "at risk"))
    assert list(custom) == ["ok", "at risk", "at risk"]


def test_result_bands_match_probabilities(gb_result):
    s = gb_result.scores
    expected = risk_bands(s["churn_probability"].to_numpy())
    assert (s["risk_band"].to_numpy(dtype=object) == expected).all()
    assert set(s["risk_band"]) == {"Low", "Medium", "High"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(probabilities=[1.2]), "probabilities must lie in"),
        (dict(probabilities=[0.2], edges=(0.6, 0.3)), "strictly increasing"),
        (dict(probabilities=[0.2], edges=(0.3, 1.5)), r"edges must lie in \[0, 1\]"),
        (dict(probabilities=[0.2], labels=("a", "b")), "labels must have len"),
        (dict(probabilities=[0.2], labels=("a", "a", "b")), "labels must be unique"),
        (dict(probabilities=[[0.2]]), "one-dimensional"),
    ],
)
def test_risk_bands_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        risk_bands(**kwargs)


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


def test_tier_determinism_and_logistic(tier_df, tier_result):
    again = fit_tier_change_model(tier_df, TIER_FEATURES, "plan", "next_move", plan_order=PLANS)
    pd.testing.assert_frame_equal(again.scores, tier_result.scores, check_exact=True)
    pd.testing.assert_frame_equal(again.drivers, tier_result.drivers, check_exact=True)
    lr = fit_tier_change_model(
        tier_df, TIER_FEATURES, "plan", "next_move", model="logistic", driver_targets=["upgrade"]
    )
    assert lr.metrics["roc_auc_ovr"]["upgrade"] > 0.75
    assert set(lr.drivers["target"]) == {"upgrade"}
    np.testing.assert_allclose(lr.scores[P_COLS].sum(axis=1), 1.0, atol=1e-9)


def test_tier_absent_class_and_temporal(tier_df):
    df = tier_df[tier_df["next_move"] != "churn"].copy()
    df["split"] = np.where(np.arange(len(df)) % 5 == 0, "score", "train")
    df.loc[df["split"] == "score", "next_move"] = None
    res = fit_tier_change_model(df, TIER_FEATURES, "plan", "next_move", cv_folds=3)
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
        (lambda d: d, dict(plan_order=["Basic", "Standard"]), "not in plan_order"),
        (lambda d: d.assign(next_move=np.where(d["plan"] == "Premium", "upgrade", d["next_move"])),
         dict(plan_order=PLANS), "contradicts plan_order"),
        (lambda d: d, dict(driver_targets=["sideways"]), "driver_targets must be among"),
        (lambda d: d, dict(plan_order=["Basic"]), "at least two plans"),
    ],
)
def test_tier_validation(tier_df, change, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_tier_change_model(change(tier_df.iloc[:300].copy()), TIER_FEATURES, "plan", "next_move", **kwargs)


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
        (lambda d: d, dict(min_frequency=0), "min_frequency"),
        (lambda d: d, dict(features="tenure_months"), "not a single string"),
        (lambda d: d, dict(features=[*CHURN_FEATURES, "churned"]), "cannot also be a feature"),
        (lambda d: d.assign(split="later"), {}, "must hold 'train' or 'score'"),
        (lambda d: d, dict(model_params={"no_such_param": 1}), "model_params"),
        (lambda d: d, dict(risk_band_edges=(0.5, 0.2)), "strictly increasing"),
    ],
)
def test_churn_validation(churn_df, change, kwargs, message):
    args = dict(features=CHURN_FEATURES, label="churned", categorical=["noise_region"])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fit_churn_model(change(_small(churn_df)), **args)


def test_score_df_and_split_column_together_is_ambiguous(churn_df):
    df = _small(churn_df).assign(split=["train", "score"] * 100)
    with pytest.raises(ValueError, match="score_df is given"):
        fit_churn_model(df, CHURN_FEATURES, "churned", categorical=["noise_region"], score_df=_small(churn_df))
    with pytest.raises(ValueError, match="columns missing from score_df"):
        fit_churn_model(
            _small(churn_df), CHURN_FEATURES, "churned", categorical=["noise_region"],
            score_df=_small(churn_df).drop(columns="noise_b"),
        )
    with pytest.raises(ValueError, match="df must be a pandas DataFrame"):
        fit_churn_model(_small(churn_df).to_dict(), CHURN_FEATURES, "churned")
