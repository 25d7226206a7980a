"""The calibration/holdout tables on CDNOW against lifetimes (issue 13).

`dbt build` of the CDNOW dataset with the 39-week calibration (1997-09-30) and the
39-week holdout (1998-06-30, as test_btyd_family's split), then the same tables
computed by lifetimes 0.11.3 (a test-only reference, the `test` extra) from the raw
CDNOW file:

- clv_calibration_holdout = lifetimes.utils.calibration_and_holdout_data (freq 'D',
  freq_multiplier 7: weeks of exact days, the BTYD unit of the dataset);
- clv_holdout_by_frequency = the table lifetimes'
  plot_calibration_purchases_vs_holdout_purchases draws (mean frequency_holdout and
  mean conditional_expected_number_of_purchases_up_to_time(duration_holdout) by
  frequency_cal), with the 7+ bucket;
- clv_repeat_tracking = lifetimes.utils.expected_cumulative_transactions (weekly,
  t = 78 weeks of days).

The models' expectations are lifetimes' own formulas (BetaGeoFitter, ParetoNBDFitter,
ModifiedBetaGeoFitter) evaluated at the parameters the build fitted on the calibration
period (those are pinned to the published CDNOW estimates in test_btyd_family). Besides,
lifetimes' own BG/NBD fit on its calibration table lands on the same parameters.

Tolerances: counts and durations are exact (integers; durations are whole days / 7,
compared to 1e-12); the means of integer counts to 1e-12; the model expectations to a
relative 1e-7 (both sides sum about 2,357 doubles in different orders, and
lifetimes' Pareto/NBD goes through another evaluation of the 2F1); lifetimes' own
BG/NBD fit (its Nelder-Mead/BFGS default tolerance) to a relative 1e-3."""
from __future__ import annotations

import warnings

import lifetimes  # the test-only reference (pyproject's `test` extra)
import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data, expected_cumulative_transactions

from dbt_harness import PROJECT_DIR, run_dbt

CAL_END, OBS_END = "1997-09-30", "1998-06-30"
WEEKS = 78
MODELS = {"bg_nbd": ("BetaGeoFitter", ["r", "alpha", "a", "b"]),
          "pareto_nbd": ("ParetoNBDFitter", ["r", "alpha", "s", "beta"]),
          "mbg_nbd": ("ModifiedBetaGeoFitter", ["r", "alpha", "a", "b"])}


def _raw_transactions() -> pd.DataFrame:
    """The raw CDNOW sample: customer (2nd column), date, dollar value."""
    with open(PROJECT_DIR / "tests" / "data" / "cdnow" / "CDNOW_sample.txt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    return pd.DataFrame({"id": [int(r[1]) for r in rows],
                         "date": pd.to_datetime([r[2] for r in rows], format="%Y%m%d"),
                         "amount": [float(r[4]) for r in rows]})


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    result = run_dbt(tmp_path_factory.mktemp("lifetimes_split"),
                     vars={"dataset": "cdnow", "as_of_date": OBS_END, "clv_calibration_end": CAL_END},
                     extra=["--select", "+clv_holdout_by_frequency", "+clv_repeat_tracking",
                            "--indirect-selection", "cautious"])
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def reference():
    tx = _raw_transactions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # monetary_value_col: without a value column lifetimes 0.11.3's holdout count
        # aggregates an empty frame under pandas 3 (ValueError: No objects to concatenate)
        ch = calibration_and_holdout_data(tx, "id", "date", calibration_period_end=CAL_END,
                                          observation_period_end=OBS_END, freq="D", freq_multiplier=7,
                                          monetary_value_col="amount")
    return tx, ch.sort_index()


def _lifetimes_model(split, model):
    cls, names = MODELS[model]
    params = dict(split.query(f"select parameter, value from clv_calibration_parameters where model = '{model}'"))
    fitter = getattr(lifetimes, cls)()
    fitter.params_ = pd.Series({k: float(params[k]) for k in names})[names]
    return fitter


def test_calibration_holdout_equals_lifetimes(split, reference):
    _, ch = reference
    rows = split.query("select customer_id, frequency_cal, recency_cal, T_cal, monetary_value_cal, "
                       "frequency_holdout, duration_holdout from clv_calibration_holdout")
    got = (pd.DataFrame(rows, columns=["id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                                       "frequency_holdout", "duration_holdout"])
           .assign(id=lambda d: d["id"].astype(int)).set_index("id").sort_index())
    assert list(got.index) == list(ch.index) and len(got) == 2357
    np.testing.assert_array_equal(got["frequency_cal"].to_numpy(float), ch["frequency_cal"].to_numpy())
    np.testing.assert_array_equal(got["frequency_holdout"].to_numpy(float), ch["frequency_holdout"].to_numpy())
    for col in ("recency_cal", "T_cal", "duration_holdout"):
        np.testing.assert_allclose(got[col].to_numpy(float), ch[col].to_numpy(), rtol=0, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(got["monetary_value_cal"].to_numpy(float), ch["monetary_value_cal"].to_numpy(),
                               rtol=1e-12, atol=1e-9)


def test_lifetimes_fit_on_its_calibration_table_gives_the_build_parameters(split, reference):
    _, ch = reference
    ours = _lifetimes_model(split, "bg_nbd").params_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lifetimes.BetaGeoFitter().fit(ch["frequency_cal"], ch["recency_cal"], ch["T_cal"]).params_
    for k in ("r", "alpha", "a", "b"):
        assert ours[k] == pytest.approx(theirs[k], rel=1e-3), k


@pytest.mark.parametrize("model", sorted(MODELS))
def test_holdout_by_frequency_equals_lifetimes(split, reference, model):
    _, ch = reference
    fitter = _lifetimes_model(split, model)
    duration = float(ch["duration_holdout"].iloc[0])
    ref = ch.assign(bucket=ch["frequency_cal"].clip(upper=7).astype(int),
                    pred=fitter.conditional_expected_number_of_purchases_up_to_time(
                        duration, ch["frequency_cal"], ch["recency_cal"], ch["T_cal"]))
    expected = ref.groupby("bucket").agg(n=("pred", "size"), actual=("frequency_holdout", "mean"),
                                         pred=("pred", "mean"))
    rows = split.query("select frequency_bucket, n_customers, actual_mean_holdout_purchases, "
                       "predicted_mean_holdout_purchases from clv_holdout_by_frequency "
                       f"where model = '{model}' order by 1")
    assert [r[0] for r in rows] == list(expected.index) == list(range(8))
    for bucket, n, actual, pred in rows:
        assert n == expected.loc[bucket, "n"]
        assert actual == pytest.approx(expected.loc[bucket, "actual"], rel=0, abs=1e-12)
        assert pred == pytest.approx(expected.loc[bucket, "pred"], rel=1e-7), bucket


@pytest.mark.parametrize("model", sorted(MODELS))
def test_repeat_tracking_equals_lifetimes_expected_cumulative_transactions(split, reference, model):
    tx, _ = reference
    fitter = _lifetimes_model(split, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ect = expected_cumulative_transactions(fitter, tx, "date", "id", WEEKS * 7, freq="D", freq_multiplier=7)
    assert len(ect) == WEEKS
    rows = split.query("select week, actual_cumulative, expected_cumulative, actual_incremental, "
                       f"expected_incremental from clv_repeat_tracking where model = '{model}' order by week")
    assert [r[0] for r in rows] == list(range(1, WEEKS + 1))
    actual = ect["actual"].to_numpy()
    predicted = ect["predicted"].to_numpy()
    assert [int(r[1]) for r in rows] == [int(a) for a in actual]
    assert [int(r[3]) for r in rows] == [int(a) for a in np.diff(actual, prepend=0)]
    np.testing.assert_allclose([r[2] for r in rows], predicted, rtol=1e-7)
    np.testing.assert_allclose([r[4] for r in rows], np.diff(predicted, prepend=0), rtol=1e-7, atol=1e-7)
