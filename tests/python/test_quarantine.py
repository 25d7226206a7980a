"""Bad input never disappears: a dirty copy of the telecom file still builds, the
rows it cannot use land in rejected_rows with a reason, and counts reconcile.
A wrong var stops the build with a message naming it."""
from __future__ import annotations

import csv

import pytest

from dbt_harness import PARTIAL, PROJECT_DIR, run_dbt

SEED = PROJECT_DIR / "seeds" / "nexa_sat" / "nexa_sat_subscribers.csv"


def _dirty_copy(path):
    with open(SEED, newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0].keys())
    clean_rows = len(rows)
    rows[0]["Customer_ID"] = ""                       # missing id
    rows[1]["Monthly_Bill_Amount"] = "-12.5"          # negative bill
    rows[2]["Tenure_Months"] = "-3"                   # negative tenure
    rows[3]["Plan_Level"] = "Gold"                    # unknown plan level
    rows[4]["Partner"] = "Maybe"                      # unknown Yes/No
    rows[5]["Monthly_Bill_Amount"] = "abc"            # not a number
    rows.append(dict(rows[10]))                       # exact duplicate: one copy kept
    conflict = dict(rows[20])
    conflict["Monthly_Bill_Amount"] = "1.00"
    rows.append(conflict)                             # conflicting duplicate: both rejected
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return clean_rows + 2, rows


def test_dirty_copy_is_quarantined_and_reconciles(tmp_path):
    dirty = tmp_path / "nexa_dirty.csv"
    rows_in, _rows = _dirty_copy(dirty)
    result = run_dbt(tmp_path, vars={"dataset": "nexa_sat", "raw_files": {"nexa_sat_subscribers": str(dirty)}})
    assert result.returncode == 0, result.output[-4000:]

    rejected = result.query("select row_key, reason from rejected_rows order by row_key, reason")
    reasons = " | ".join(r[1] for r in rejected)
    for expected in ["missing Customer_ID", "negative Monthly_Bill_Amount", "negative Tenure_Months",
                     "unknown Plan_Level 'Gold'", "unknown Yes/No value in Partner: 'Maybe'",
                     "Monthly_Bill_Amount is not a number: 'abc'", "exact duplicate of another row",
                     "conflicting duplicate Customer_ID"]:
        assert expected in reasons, (expected, reasons)
    # 6 bad rows + 1 extra exact copy + 2 rows sharing a conflicting id
    assert len(rejected) == 9
    assert result.query("select rows_in, rows_used, rows_rejected, is_reconciled from input_reconciliation") == [
        (rows_in, rows_in - 9, 9, True)]
    # the raw row is kept as read
    raw = result.scalar("select raw_row from rejected_rows where reason like '%Gold%'")
    assert '"Plan_Level":"Gold"' in raw.replace(" ", "")
    # the data quality report sees the problems in the raw input
    assert result.scalar("select duplicate_keys from data_quality_report where is_key") == 4
    assert result.scalar("select null_values from data_quality_report where column_name = 'Customer_ID'") == 1
    # downstream marts only see the usable rows
    assert result.scalar("select count(*) from intermediate.int_customers") == rows_in - 9


# the stops in on-run-start come before any node whatever is selected; a feature name
# is checked against int_customer_value_features' columns when customer_clv_score
# runs, so that case builds only that model and its parents
CLV_SCORE = ["--select", "+customer_clv_score", *PARTIAL]


@pytest.mark.parametrize("vars, named, extra", [
    ({"dataset": "nope"}, "dataset", None),
    ({"dataset": "nexa_sat", "clv_population": "everyone"}, "clv_population", None),
    ({"dataset": "nexa_sat", "clv_score_weights": {"monthly_amount": "lots"}}, "clv_score_weights", None),
    ({"dataset": "nexa_sat", "clv_score_weights": {"no_such_feature": 1}}, "clv_score_weights", CLV_SCORE),
    ({"dataset": "nexa_sat", "clv_segments": [{"label": "Low", "percentile": 0.2}, {"label": "High", "percentile": 0.9}]},
     "clv_segments", None),
    ({"dataset": "nexa_sat", "as_of_date": "yesterday"}, "as_of_date", None),
])
def test_wrong_setting_stops_the_build_naming_it(tmp_path, vars, named, extra):
    result = run_dbt(tmp_path, vars=vars, extra=extra)
    assert result.returncode != 0
    assert f"var('{named}')" in result.output or f"var '{named}'" in result.output, result.output[-3000:]


def test_changing_a_setting_changes_the_result_and_fails_the_figure_test(tmp_path):
    # the published-figure test is live: other cut-offs must break it (the test and
    # the models it reads are enough; test_publishing runs the full failing build)
    result = run_dbt(tmp_path, vars={"dataset": "nexa_sat", "clv_segments": [
        {"label": "High Value", "op": ">", "percentile": 0.9},
        {"label": "Moderate Value", "op": ">=", "percentile": 0.5},
        {"label": "Low Value", "op": ">=", "percentile": 0.25}]},
        extra=["--select", "+assert_nexa_sat_published_figures", *PARTIAL])
    assert result.returncode != 0
    assert "assert_nexa_sat_published_figures" in result.output
    assert "FAIL" in result.output and "assert_nexa_sat_published_figures" in \
        " ".join(line for line in result.output.splitlines() if "FAIL" in line), result.output[-3000:]
    assert result.scalar("select count(*) from customer_clv where clv_segment = 'High Value'") < 641
