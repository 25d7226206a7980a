"""The shared default builds (conftest.py `dataset_build`): a `make test-dbt` build in
$SEGMENTS_TEST_BUILDS is reused only when it is a complete, passing, published full
build of this checkout with default settings; anything else is rebuilt. Checked on
hand-made build folders (no dbt run): a stale or partial build must never be read."""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import duckdb
import pytest

import dbt_harness
from dbt_harness import PROJECT_DIR, dataset_default_build, reusable_build


def _make_build(folder, dataset="cdnow", *, which="build", vars=None, select=None, statuses=("success", "pass"),
                project_dir=PROJECT_DIR, published_age=0.0, elapsed=30.0):
    """A folder laid out like `make test-dbt` leaves it, the run having ended just now."""
    (folder / ".build").mkdir(parents=True, exist_ok=True)
    target = folder / "target" / dataset
    target.mkdir(parents=True, exist_ok=True)
    for path in (folder / f"{dataset}.duckdb", folder / ".build" / f"{dataset}.duckdb"):
        with duckdb.connect(str(path)) as con:
            con.execute("create or replace table marker as select 'shared' as origin")
    now = time.time()
    results = {
        "metadata": {"generated_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        "elapsed_time": elapsed,
        "results": [{"unique_id": f"model.x.m{i}", "status": s} for i, s in enumerate(statuses)],
        "args": {"which": which, "vars": vars if vars is not None else {"dataset": dataset},
                 "select": select or [], "project_dir": str(project_dir)},
    }
    (target / "run_results.json").write_text(json.dumps(results))
    (target / "semantic_manifest.json").write_text("{}")
    published = folder / f"{dataset}.duckdb"
    os.utime(published, (now - published_age, now - published_age))
    return folder


@pytest.fixture
def sources_unchanged(monkeypatch):
    """The checkout's build inputs last changed an hour ago (before any build here)."""
    monkeypatch.setattr(dbt_harness, "_newest_input_mtime", lambda: time.time() - 3600)


def test_a_complete_default_build_is_reused_as_a_copy(tmp_path, monkeypatch, sources_unchanged):
    shared = _make_build(tmp_path / "shared", statuses=("success", "pass", "warn", "no-op"))  # exposures: no-op
    found = reusable_build(shared, "cdnow")
    assert found == (shared / "cdnow.duckdb", shared / ".build" / "cdnow.duckdb", shared / "target" / "cdnow")
    monkeypatch.setenv(dbt_harness.SHARED_BUILDS_ENV, str(shared))
    result = dataset_default_build("cdnow", tmp_path / "work")
    assert result.returncode == 0 and result.db_path == result.published_path == tmp_path / "work" / "cdnow.duckdb"
    assert result.scalar("select origin from marker") == "shared"
    assert (tmp_path / "work" / ".build" / "cdnow.duckdb").is_file()
    assert (tmp_path / "work" / "target" / "semantic_manifest.json").is_file()
    # the shared files are copied, never opened by the tests
    assert not result.db_path.samefile(shared / "cdnow.duckdb")


@pytest.mark.parametrize("kwargs, why", [
    ({"which": "run"}, "is not `dbt build"),
    ({"vars": {"dataset": "cdnow", "as_of_date": "1997-06-30"}}, "is not `dbt build"),
    ({"select": ["+customer_rfm"]}, "is a partial build"),
    ({"statuses": ("success", "error", "skipped")}, "not every node passed"),
    ({"statuses": ()}, "not every node passed"),
    ({"project_dir": "/elsewhere/checkout"}, "was built from /elsewhere/checkout"),
    ({"published_age": 120.0}, "older than the build"),  # left by an earlier build, not published by this one
], ids=["not-build", "own-settings", "partial", "failed-node", "no-nodes", "other-checkout", "not-published"])
def test_an_unusable_build_is_not_reused(tmp_path, sources_unchanged, kwargs, why):
    shared = _make_build(tmp_path, **kwargs)
    found = reusable_build(shared, "cdnow")
    assert isinstance(found, str) and why in found, found


def test_a_build_older_than_the_checkout_is_stale(tmp_path, monkeypatch):
    shared = _make_build(tmp_path)
    monkeypatch.setattr(dbt_harness, "_newest_input_mtime", lambda: time.time() + 1)  # a model edited after the build
    assert "changed after the build" in reusable_build(shared, "cdnow")


def test_a_missing_file_is_not_reused(tmp_path, sources_unchanged):
    shared = _make_build(tmp_path)
    (shared / ".build" / "cdnow.duckdb").unlink()
    assert reusable_build(shared, "cdnow") == f"no {shared / '.build' / 'cdnow.duckdb'}"
    assert reusable_build(shared, "lita").startswith("no ")


def test_the_inputs_scan_sees_the_checkout():
    newest = dbt_harness._newest_input_mtime()
    assert newest >= (PROJECT_DIR / "dbt_project.yml").stat().st_mtime
    assert newest >= max(p.stat().st_mtime for p in (PROJECT_DIR / "models").rglob("*.sql"))


def test_an_unusable_shared_build_is_rebuilt_and_says_why(tmp_path, monkeypatch, sources_unchanged):
    shared = _make_build(tmp_path / "shared", select=["+customer_rfm"])
    monkeypatch.setenv(dbt_harness.SHARED_BUILDS_ENV, str(shared))
    calls = []

    def fake_run_dbt(workdir, vars=None, db_name="warehouse.duckdb", **_):
        calls.append((workdir, vars, db_name))
        return dbt_harness.DbtResult(0, "built", workdir / db_name, workdir / db_name)

    monkeypatch.setattr(dbt_harness, "run_dbt", fake_run_dbt)
    with pytest.warns(UserWarning, match="builds its own: .* is a partial build"):
        result = dataset_default_build("cdnow", tmp_path / "work")
    assert calls == [(tmp_path / "work", {"dataset": "cdnow"}, "cdnow.duckdb")]  # a full build, default settings
    assert "is a partial build" in result.output
