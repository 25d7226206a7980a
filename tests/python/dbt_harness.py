"""Run the dbt project into a throwaway DuckDB file, for end-to-end tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

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

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(workdir: Path, command: str = "build", vars: dict | None = None,
            extra: list[str] | None = None, db_name: str = "warehouse.duckdb") -> DbtResult:
    """`dbt <command>` against a DuckDB file in workdir; target/logs also go there."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / db_name
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(db_path), SEGMENTS_HOME=str(PROJECT_DIR))
    args = [dbt_executable(), command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs"), "--no-use-colors"]
    if vars:
        args += ["--vars", json.dumps(vars)]
    args += extra or []
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
