"""BG/BB through `dbt build` of the donations dataset against Fader, Hardie & Shang
(2010), "Customer-Base Analysis in a Discrete-Time Noncontractual Setting",
Marketing Science 29(6), and against lifetimes' BetaGeoBetaBinomFitter (issue 13).

The expected values are published ones, never our code's:
- table 6, P(alive in 2002) by (x, t_x) with n = 6, at the paper's two decimals, for
  the three cells lifetimes pins (test_prob_alive_is_close_to_Hardie_paper_table_6):
  no repeat donation (last in 1995) 0.11; 2 repeats, the last in 1999 (t_x = 4) 0.59;
  6 repeats (last in 2001) 0.93;
- the expected donations 2002-2006 (the next 5 opportunities) summed over the 11,104
  donors: 12,884.2, the total of Hardie's "Conditional Expectations (II)" sheet
  (brucehardie.com/notes/010, as lifetimes' test_conditional_expectation_returns_
  same_value_as_Hardie_excel_sheet quotes it), at its one decimal;
- the conditional expectations of four donors that Fader's Wharton course on this 1995
  cohort quotes (slides "Predictive Customer Analytics", scribd.com/document/288252522,
  as summarised at jbdon.com/probability-models.html): "Bob", a donation in every year
  1996-2001 (x = 6, t_x = 6), 3.75 of the 5 years 2002-2006; "Sarah", no repeat
  donation (0, 0), 0.07; "Mary and Chris", 4 repeats with the last in 2001 (4, 6), "50%
  more valuable" than "Sharmila", 5 repeats with the last in 2000 (5, 5);
- every one of the 22 (x, t_x, n = 6) patterns: P(alive at n + 1) and the conditional
  expectation of the next 5 opportunities computed by lifetimes 0.11.3
  (conditional_probability_alive(1, ...), conditional_expected_number_of_purchases_
  up_to_time(5, ...)), an independent implementation of eqs. (11) and (13), at the
  parameters of the build (relative 1e-9: both are closed forms in beta functions)
  and, more loosely, at lifetimes' own fit on its donations.csv (absolute 1e-4: the
  two optimisers stop about 1e-5 apart in the parameters)."""
from __future__ import annotations

import warnings

import lifetimes  # the test-only reference (pyproject's `test` extra)
import pandas as pd
import pytest

from dbt_harness import PROJECT_DIR

DONATIONS_CSV = PROJECT_DIR / "seeds" / "donations" / "donations_summary.csv"
# Table 6 cells quoted by lifetimes' test suite: (x, t_x) -> P(alive in 2002)
TABLE6 = {(0, 0): 0.11, (2, 4): 0.59, (6, 6): 0.93}
HARDIE_EXPECTED_TOTAL_2002_2006 = 12884.2


@pytest.fixture(scope="module")
def donations(dataset_build):
    # the default-settings build of donations (shared with test_contractual; make test-dbt's)
    return dataset_build("donations")


@pytest.fixture(scope="module")
def patterns(donations):
    rows = donations.query("""
        select frequency, recency, n_opportunities, count(*) as donors,
               min(probability_alive), max(probability_alive),
               min(expected_transactions_next), max(expected_transactions_next), min(forecast_periods)
        from customer_bgbb group by frequency, recency, n_opportunities order by all""")
    df = pd.DataFrame(rows, columns=["x", "t_x", "n", "donors", "pa", "pa_hi", "e", "e_hi", "horizon"])
    assert (df["pa"] == df["pa_hi"]).all() and (df["e"] == df["e_hi"]).all()
    return df


def test_table6_p_alive_in_2002(patterns):
    assert set(patterns["n"]) == {6}
    got = {(int(r.x), int(r.t_x)): r.pa for r in patterns.itertuples()}
    for cell, published in TABLE6.items():
        assert round(got[cell], 2) == published, cell


def test_expected_donations_2002_2006_total_equals_hardies_sheet(patterns):
    assert set(patterns["horizon"]) == {5}
    assert int(patterns["donors"].sum()) == 11_104
    total = float((patterns["donors"] * patterns["e"]).sum())
    assert round(total, 1) == HARDIE_EXPECTED_TOTAL_2002_2006


# (x, t_x) -> expected donations 2002-2006, at the course's two decimals
COURSE_EXPECTATIONS = {(6, 6): 3.75, (0, 0): 0.07}


def test_conditional_expectations_of_the_course_donors(patterns):
    got = {(int(r.x), int(r.t_x)): r.e for r in patterns.itertuples()}
    for cell, published in COURSE_EXPECTATIONS.items():
        assert round(got[cell], 2) == published, cell
    # Mary and Chris (4, 6) against Sharmila (5, 5): "50% more valuable"
    assert round(got[(4, 6)] / got[(5, 5)], 1) == 1.5


def _lifetimes_values(fitter, df):
    pa = fitter.conditional_probability_alive(1, df["x"], df["t_x"], df["n"])
    e = fitter.conditional_expected_number_of_purchases_up_to_time(5, df["x"], df["t_x"], df["n"])
    return pd.Series(pa).to_numpy(float), pd.Series(e).to_numpy(float)


def test_every_pattern_equals_lifetimes_at_the_build_parameters(donations, patterns):
    params = dict(donations.query("select parameter, value from bgbb_parameters where model = 'bg_bb'"))
    fitter = lifetimes.BetaGeoBetaBinomFitter()
    fitter.params_ = pd.Series({k: float(params[k]) for k in ("alpha", "beta", "gamma", "delta")})
    df = patterns.astype({"x": float, "t_x": float, "n": float})
    pa, e = _lifetimes_values(fitter, df)
    assert len(df) == 22
    assert list(df["pa"]) == pytest.approx(list(pa), rel=1e-9)
    assert list(df["e"]) == pytest.approx(list(e), rel=1e-9)


def test_every_pattern_equals_lifetimes_own_fit(patterns):
    d = pd.read_csv(DONATIONS_CSV)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = lifetimes.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    pa, e = _lifetimes_values(fitter, patterns.astype({"x": float, "t_x": float, "n": float}))
    assert list(patterns["pa"]) == pytest.approx(list(pa), abs=1e-4)
    assert list(patterns["e"]) == pytest.approx(list(e), abs=1e-4)
