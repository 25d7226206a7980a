"""Run the dbt project into a throwaway DuckDB file, for end-to-end tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from segkit.publish import load_cache_path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATASETS = PROJECT_DIR.parent / "shared" / "datasets"


@dataclass
class DbtResult:
    """What a dbt run left. db_path is the warehouse the run produced: the
    published file when the run published it (a full, passing `dbt build`), else
    the run's own build database (a partial or failed build publishes nothing)."""
    returncode: int
    output: str
    db_path: Path
    published_path: Path | None = None
    build_path: Path | None = None

    @property
    def load_cache_path(self) -> Path | None:
        """The raw load cache of folder inputs beside the build database (the segkit.publish
        plugin's load_cache_path)."""
        return None if self.build_path is None else load_cache_path(self.build_path)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(workdir: Path, command: str = "build", vars: dict | None = None,
            extra: list[str] | None = None, db_name: str = "warehouse.duckdb",
            unit_tests: bool = False) -> DbtResult:
    """`dbt <command>` against a DuckDB file in workdir; target/logs also go there.

    A `build` leaves out the dbt unit tests unless ``unit_tests``: they pin their own
    fixtures and settings, so they give the same verdict in every build of the
    checkout; `make test-dbt` runs them in each dataset's build, and the tests about
    them (test_settings) and the default-settings builds (dataset_default_build,
    demo_past_build) ask for them. That is ~11 s of a ~52 s demo build."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / db_name
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(db_path), SEGMENTS_HOME=str(PROJECT_DIR))
    args = [dbt_executable(), command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs"), "--no-use-colors"]
    if vars:
        args += ["--vars", json.dumps(vars)]
    args += extra or []
    if command == "build" and not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    # started from workdir, not the project: paths must not depend on the cwd
    started = time.time()
    proc = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True)
    build_path = workdir / ".build" / db_name
    published_now = db_path.exists() and db_path.stat().st_mtime >= started - 1
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, db_path if published_now else build_path,
                     published_path=db_path, build_path=build_path)


# a partial build runs only the tests whose parents are all selected
PARTIAL = ["--indirect-selection", "cautious"]


def partial_build(workdir: Path, select: str, vars: dict | None = None, dataset: str = "demo",
                  extra: list[str] | None = None) -> DbtResult:
    """`dbt build --select <select> --indirect-selection cautious` of `dataset`
    (plus vars) in workdir; fails the calling test with dbt's output unless it passed."""
    result = run_dbt(workdir, vars={"dataset": dataset, **(vars or {})},
                     extra=["--select", *select.split(), *PARTIAL, *(extra or [])])
    assert result.returncode == 0, result.output[-4000:]
    return result


# --------------------------------------------------------------------------- #
# One default build per dataset, shared by the tests that only read it
# --------------------------------------------------------------------------- #
# `make test-dbt` builds every bundled dataset with default settings (full build,
# published) into $SEGMENTS_TEST_BUILDS (the Makefile sets it to warehouse/test for
# `make test-python`): <ds>.duckdb, .build/<ds>.duckdb, target/<ds>/. The tests reuse
# such a build only if it is complete and made from this checkout as it is now.
SHARED_BUILDS_ENV = "SEGMENTS_TEST_BUILDS"
# what a build is made from: a file changed since the build started makes it stale
BUILD_INPUTS = ("models", "macros", "seeds", "tests/dbt", "tests/data", "data", "python",
                "dbt_project.yml", "profiles.yml")
PASSED = {"success", "pass", "warn", "no-op"}  # what publishing accepts (warnings allowed; exposures are no-op)


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in BUILD_INPUTS:
        path = PROJECT_DIR / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")]
            for f in files:
                if not f.endswith(".pyc"):
                    newest = max(newest, os.stat(os.path.join(root, f)).st_mtime)
    return newest


def reusable_build(folder: Path, dataset: str) -> tuple[Path, Path, Path] | str:
    """(published, build database, target path) of the `make test-dbt` build of
    `dataset` in `folder`, or why it cannot be reused: it must be a full `dbt build`
    of this checkout with vars exactly {dataset: <dataset>}, every node passed, its
    published file written by that run, and no build input changed since it started."""
    published, build_db = folder / f"{dataset}.duckdb", folder / ".build" / f"{dataset}.duckdb"
    target = folder / "target" / dataset
    results_file = target / "run_results.json"
    for path in (published, build_db, results_file):
        if not path.is_file():
            return f"no {path}"
    results = json.loads(results_file.read_text())
    args = results.get("args", {})
    vars_ = args.get("vars") or {}
    if isinstance(vars_, str):  # older dbt wrote the --vars string
        import yaml
        vars_ = yaml.safe_load(vars_) or {}
    if args.get("which") != "build" or vars_ != {"dataset": dataset}:
        return f"{results_file} is not `dbt build --vars '{{dataset: {dataset}}}'` (which={args.get('which')}, vars={vars_})"
    if any(args.get(key) for key in ("select", "exclude", "selector", "resource_types", "exclude_resource_types")):
        return f"{results_file} is a partial build"
    if Path(args.get("project_dir", "")).resolve() != PROJECT_DIR:
        return f"{results_file} was built from {args.get('project_dir')}, not {PROJECT_DIR}"
    failed = [r["unique_id"] for r in results.get("results", []) if r.get("status") not in PASSED]
    if failed or not results.get("results"):
        return f"{results_file}: not every node passed ({failed[:5]})"
    generated = datetime.fromisoformat(results["metadata"]["generated_at"].replace("Z", "+00:00"))
    started = generated.timestamp() - float(results.get("elapsed_time") or 0) - 1
    if published.stat().st_mtime < started:
        return f"{published} is older than the build in {results_file} (not published by it)"
    if _newest_input_mtime() > started:
        return f"a build input of {PROJECT_DIR} changed after the build in {results_file} started"
    return published, build_db, target


def dataset_default_build(dataset: str, workdir: Path) -> DbtResult:
    """The full default-settings `dbt build` of `dataset`, published, as a DbtResult
    whose workdir is laid out like run_dbt's (<dataset>.duckdb, .build/, target/; the
    file name is the dataset's, as in make test-dbt: it is the DuckDB catalog name the
    artifacts, e.g. the semantic manifest, name).
    Reuses the `make test-dbt` build in $SEGMENTS_TEST_BUILDS when reusable_build
    accepts it (copied into workdir, so the shared files are only read), else builds it."""
    folder = os.environ.get(SHARED_BUILDS_ENV)
    found = reusable_build(Path(folder), dataset) if folder else f"{SHARED_BUILDS_ENV} is not set"
    if isinstance(found, str):
        if folder:  # CI meant the tests to reuse it: say why they build it again (pytest's warnings summary)
            warnings.warn(f"dataset_build({dataset!r}) builds its own: {found}", stacklevel=2)
        result = run_dbt(workdir, vars={"dataset": dataset}, db_name=f"{dataset}.duckdb", unit_tests=True)
        result.output = f"[dataset_build] built {dataset} here: {found}\n" + result.output
        return result
    published, build_db, target = found
    (workdir / ".build").mkdir(parents=True, exist_ok=True)
    (workdir / "target").mkdir(exist_ok=True)
    db, copy = workdir / published.name, workdir / ".build" / published.name
    cache = load_cache_path(build_db)
    pairs = [(published, db), (build_db, copy)]
    if cache.exists():
        pairs.append((cache, copy.with_name(cache.name)))
    for src, dst in pairs:
        shutil.copyfile(src, dst)
        if Path(f"{src}.wal").exists():
            shutil.copyfile(f"{src}.wal", f"{dst}.wal")
    for item in target.iterdir():  # the artifacts (manifest, run_results, semantic_manifest), not compiled SQL
        if item.is_file():
            shutil.copyfile(item, workdir / "target" / item.name)
    return DbtResult(0, f"[dataset_build] reused the `make test-dbt` build {published}", db,
                     published_path=db, build_path=copy)
