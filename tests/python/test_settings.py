"""One path for settings (issue 9 section 1, issue 8 case 10).

- every var of dbt_project.yml is validated in on-run-start, before any model
  runs, with a message naming the var and the fix (including the Python step's);
- an unknown var name (command line or dataset_settings) stops the build naming
  the closest known var;
- run_settings records every var of dbt_project.yml, resolved (command line >
  dataset_settings > project default);
- unit tests pin their own settings: a past as_of_date on the command line and a
  dataset's dataset_settings no longer break them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_harness import PROJECT_DIR, run_dbt

PROJECT_VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def unit_test_names() -> set[str]:
    names = set()
    for path in (PROJECT_DIR / "models").rglob("*.yml"):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            names.add(test["name"])
    return names


def database_files(result) -> list[Path]:
    """The published warehouse and the build database dbt writes (<dir>/.build/<name>)."""
    return [Path(result.published_path), Path(result.build_path)]


def query_built(result, sql: str) -> list[tuple]:
    """Rows from the database the build wrote (a selected run is not published)."""
    path = next(p for p in reversed(database_files(result)) if p.exists())
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def assert_stopped_before_any_model(result) -> None:
    assert result.returncode != 0, result.output[-3000:]
    assert "on-run-start" in result.output, result.output[-3000:]
    assert " START " not in result.output, "a node ran before the settings were validated"
    for path in database_files(result):
        if path.exists():
            with duckdb.connect(str(path), read_only=True) as con:
                tables = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
            assert tables == [], (path, tables)


# --------------------------------------------------------------------------- #
# Wrong values stop the build in on-run-start, naming the var and the fix
# --------------------------------------------------------------------------- #
WRONG_SETTINGS = [
    # issue 8 case 10
    ({"churn_mode": "foo"}, "churn_mode", "temporal"),
    ({"as_of_date": "2024-02-30"}, "as_of_date", "YYYY-MM-DD"),
    ({"cluster_k": 0}, "cluster_k", "at least 2"),
    ({"cluster_methods": ["kmeanz"]}, "cluster_methods", "did you mean kmeans"),
    ({"churn_model": "foo"}, "churn_model", "gradient_boosting or logistic"),
    ({"churn_risk_band_edges": [0.6, 0.3]}, "churn_risk_band_edges", "[0.3, 0.6]"),
    # types and ranges of the other numeric and list settings
    ({"funnel_window_days": 0}, "funnel_window_days", "positive number of days"),
    ({"backtest_top_share": 1.5}, "backtest_top_share", "strictly between 0 and 1"),
    ({"backtest_cutoffs": ["1997-06-31"]}, "backtest_cutoffs", "not a real date"),
    ({"backtest_window_days": "ninety"}, "backtest_window_days", "not a whole number"),
    ({"cluster_k_min": 5, "cluster_k_max": 3}, "cluster_k_max", "below cluster_k_min"),
    ({"cluster_log_features": ["not_a_feature"]}, "cluster_log_features", "not among cluster_features"),
    ({"churn_cv_folds": 1}, "churn_cv_folds", "at least 2"),
    ({"churn_max_train_rows": 5}, "churn_max_train_rows", "at least 10"),
    ({"clv_forecast_horizon_months": 0}, "clv_forecast_horizon_months", "at least 1"),
    ({"monthly_matrix_months": 0}, "monthly_matrix_months", "from 1 to 120"),
    ({"product_laggard_share": 2}, "product_laggard_share", "strictly between 0 and 1"),
    ({"rfm_freq_multiplier": 2}, "rfm_freq_multiplier", "days or weeks"),
]


@pytest.mark.parametrize("vars, named, fix", WRONG_SETTINGS, ids=[c[1] for c in WRONG_SETTINGS])
def test_wrong_setting_stops_the_build_before_any_model(tmp_path, vars, named, fix):
    result = run_dbt(tmp_path, vars={"dataset": "demo", **vars})
    assert_stopped_before_any_model(result)
    assert f"Invalid setting var('{named}')" in result.output, result.output[-3000:]
    message = result.output[result.output.index(f"Invalid setting var('{named}')"):]
    assert "Fix:" in message and fix in message, message[:800]


def test_wrong_value_in_dataset_settings_is_caught_too(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "dataset_settings": {"demo": {"churn_mode": "foo"}}})
    assert_stopped_before_any_model(result)
    assert "Invalid setting var('churn_mode')" in result.output, result.output[-3000:]


# --------------------------------------------------------------------------- #
# Unknown var names: the closest known name
# --------------------------------------------------------------------------- #
def test_unknown_var_on_the_command_line_names_the_closest_var(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "clv_segmnets": []})
    assert_stopped_before_any_model(result)
    assert "Invalid setting var('clv_segmnets')" in result.output, result.output[-3000:]
    assert "did you mean 'clv_segments'?" in result.output


def test_unknown_var_in_dataset_settings_names_the_closest_var(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "dataset_settings": {"demo": {"funnel_windw_days": 7}}})
    assert_stopped_before_any_model(result)
    assert "'funnel_windw_days' (in dataset_settings.demo) is not a var of dbt_project.yml" in result.output, \
        result.output[-3000:]
    assert "did you mean 'funnel_window_days'?" in result.output


def test_unknown_dataset_in_dataset_settings_names_the_closest_dataset(tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "demo", "dataset_settings": {"cdnwo": {"as_of_date": "1997-09-30"}}})
    assert_stopped_before_any_model(result)
    assert "Invalid setting var('dataset_settings'): 'cdnwo' is not a known dataset" in result.output, \
        result.output[-3000:]
    assert "did you mean 'cdnow'?" in result.output


# --------------------------------------------------------------------------- #
# run_settings records every var of dbt_project.yml, resolved
# --------------------------------------------------------------------------- #
def test_run_settings_records_every_var_of_dbt_project_resolved(tmp_path, monkeypatch):
    # the profile's environment settings are recorded too (profiles.yml)
    monkeypatch.setenv("SEGMENTS_MEMORY_LIMIT", "3GB")
    monkeypatch.setenv("SEGMENTS_THREADS", "1")
    overrides = {"churn_horizon_days": 60}
    per_dataset = {"cluster_k": 4, "churn_horizon_days": 30}   # the command line wins over it
    result = run_dbt(tmp_path, command="run",
                     vars={"dataset": "demo", "as_of_date": "2024-06-30", **overrides,
                           "dataset_settings": {"demo": per_dataset}},
                     extra=["--select", "+run_settings"])
    assert result.returncode == 0, result.output[-4000:]
    rows = query_built(result, "select setting_name, value_json, resolved_as_of_date from run_settings")
    recorded = {name: json.loads(value) for name, value, _ in rows}
    # a new var in dbt_project.yml cannot be forgotten
    assert sorted(recorded) == sorted(PROJECT_VARS)
    assert len(rows) == len(recorded)
    assert {r[2] for r in rows} == {"2024-06-30"}
    # 3GB = 2.79 GiB, which DuckDB reports to one decimal
    assert query_built(result, "select distinct duckdb_memory_limit, dbt_threads from run_settings") == [("2.7 GiB", 1)]
    assert recorded["dataset"] == "demo"
    assert recorded["as_of_date"] == "2024-06-30"
    assert recorded["churn_horizon_days"] == 60          # command line
    assert recorded["cluster_k"] == 4                    # dataset_settings
    assert recorded["dataset_settings"] == per_dataset   # the resolved dataset's entry
    for name, default in PROJECT_VARS.items():           # everything else: the project default
        if name not in {"dataset", "as_of_date", "dataset_settings", *overrides, *per_dataset}:
            assert recorded[name] == default, name


def test_python_step_requires_its_settings_without_default_copies():
    from segkit import dbt_steps

    with pytest.raises(KeyError, match="rfm_freq_multiplier"):
        dbt_steps.rfm_unit_days({"rfm_time_unit": "day"})
    source = (PROJECT_DIR / "python" / "segkit" / "dbt_steps.py").read_text()
    assert not re.search(r"\bsettings\.get\(", source), "settings must be read with _require (no default copies)"


# --------------------------------------------------------------------------- #
# Unit tests pin their own settings, for every dataset and whatever the command line
# --------------------------------------------------------------------------- #
def unit_tests_passed(output: str) -> set[str]:
    return set(re.findall(r"PASS \w+::(\w+)", output))


def test_past_as_of_date_on_the_command_line_passes_every_unit_test(demo_past_build):
    # the session's full build of demo with as_of_date 2024-06-30 on the command line (conftest.py)
    result = demo_past_build
    assert result.returncode == 0, result.output[-4000:]
    vars_ = json.loads((Path(result.published_path).parent / "target" / "run_results.json").read_text())["args"]["vars"]
    assert (yaml.safe_load(vars_) if isinstance(vars_, str) else vars_) == {"dataset": "demo", "as_of_date": "2024-06-30"}
    assert re.search(r"ERROR=0 SKIP=0", result.output), result.output[-2000:]
    assert unit_tests_passed(result.output) == unit_test_names()
    assert {"tier_movements_new_upgrade_churn_reactivation_retained",
            "cohort_retention_purchases_and_subscription_months"} <= unit_tests_passed(result.output)


def test_unit_tests_run_for_a_dataset_with_its_own_as_of_date(tmp_path):
    # cdnow's dataset_settings set as_of_date 1997-09-30 and the RFM time unit;
    # the marts under unit test and their inputs are enough to run every unit test
    tested = sorted({t["model"] for p in (PROJECT_DIR / "models").rglob("*.yml")
                     for t in (yaml.safe_load(p.read_text()) or {}).get("unit_tests") or []})
    result = run_dbt(tmp_path, vars={"dataset": "cdnow"},
                     extra=["--select", *[f"+{m}" for m in tested], "--exclude-resource-type", "test"], unit_tests=True)
    assert result.returncode == 0, result.output[-4000:]
    assert unit_tests_passed(result.output) == unit_test_names()
