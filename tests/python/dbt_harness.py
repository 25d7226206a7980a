"""Run the dbt project into a throwaway DuckDB file, for end-to-end tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATASETS = PROJECT_DIR.parent / "shared" / "datasets"


@dataclass
class DbtResult:
    returncode: int
    output: str
    db_path: Path

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
    proc = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True)
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, db_path)
