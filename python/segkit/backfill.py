"""Backfill the segment history (issue 14): ``python -m segkit.backfill --dataset demo --months 12``.

Builds ``segment_history`` for past as-of dates from the data already loaded, so a new
user sees segments move on day one:

1. the dataset's as-of date (var ``as_of_date``, else the latest date in the data) is read
   from ``run_settings`` after a ``dbt run --select +run_settings``;
2. the as-of dates are the last ``--months`` month ends on or before it (or
   ``--as-of-dates``); each one (in increasing order) is written by
   ``dbt build --select +segment_history +model_versions +model_refit_history --vars
   '{as_of_date: <date>}'`` (its segments, the model version that scored it and the refit
   decision): every model it reads follows the point-in-time rules (macros/as_of_date.sql),
   so nothing sees past that date. The first step starts from the published history (the
   segkit.publish plugin carries the carried tables into the build database); the later ones pass
   ``publish_carried_tables: []`` so each keeps the rows the step before wrote;
3. the normal ``dbt build`` (also with ``publish_carried_tables: []``) adds the dataset's
   own as-of date and publishes the warehouse with the whole history when every node
   passed.

A failing step stops the backfill with the date and the command; nothing is published
then, the published warehouse keeps its history, and the next build starts from it.
"""
from __future__ import annotations

import argparse
import calendar
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import yaml

# the carried tables a backfilled as-of date writes: its segments, the model version that
# scored it and the refit decision (model_versions and model_refit_history are not
# upstream of segment_history, so +segment_history alone records no version)
HISTORY_MODELS = ("segment_history", "model_versions", "model_refit_history")
HISTORY_SELECT = ["--select", *(f"+{m}" for m in HISTORY_MODELS), "--indirect-selection", "cautious",
                  "--exclude-resource-type", "unit_test"]


class BackfillError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[backfill] {time.strftime('%H:%M:%S')} {message}", flush=True)


def month_ends(as_of: date, months: int) -> list[date]:
    """The `months` month ends on or before `as_of`, in increasing order."""
    if months < 1:
        raise BackfillError(f"--months must be at least 1 (got {months})")
    year, month = as_of.year, as_of.month
    if as_of.day != calendar.monthrange(year, month)[1]:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    out = []
    for _ in range(months):
        out.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(out)


def parse_dates(values: list[str]) -> list[date]:
    out = []
    for value in values:
        for part in value.replace(",", " ").split():
            try:
                out.append(date.fromisoformat(part))
            except ValueError:
                raise BackfillError(f"--as-of-dates: '{part}' is not a date YYYY-MM-DD") from None
    if not out:
        raise BackfillError("--as-of-dates: no date given")
    return sorted(set(out))


def published_path(dataset: str, home: Path) -> Path:
    """profiles.yml: $SEGMENTS_DB, else <SEGMENTS_HOME>/warehouse/<dataset>.duckdb."""
    return Path(os.environ.get("SEGMENTS_DB") or home / "warehouse" / f"{dataset}.duckdb")


def build_path(dataset: str, home: Path) -> Path:
    """profiles.yml: $SEGMENTS_BUILD_DB, else .build/<name> beside the published file."""
    if os.environ.get("SEGMENTS_BUILD_DB"):
        return Path(os.environ["SEGMENTS_BUILD_DB"])
    published = published_path(dataset, home)
    return published.parent / ".build" / published.name


class Dbt:
    def __init__(self, project_dir: Path, profiles_dir: Path, extra: list[str]):
        candidate = Path(sys.executable).with_name("dbt")
        self.executable = str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.extra = extra

    def run(self, command: str, vars: dict, args: list[str]) -> tuple[int, str]:
        cmd = [self.executable, command, "--project-dir", str(self.project_dir),
               "--profiles-dir", str(self.profiles_dir), *self.extra,
               "--vars", json.dumps(vars, default=str), *args]
        env = dict(os.environ, DO_NOT_TRACK=os.environ.get("DO_NOT_TRACK", "1"))
        env.setdefault("SEGMENTS_HOME", str(self.project_dir))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        return proc.returncode, proc.stdout + proc.stderr

    def describe(self, command: str, vars: dict, args: list[str]) -> str:
        return " ".join(["dbt", command, *args, "--vars", f"'{json.dumps(vars, default=str)}'"])


def tail(output: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in output.strip().splitlines()[-lines:])


def resolve_as_of_date(dbt: Dbt, vars: dict, build_db: Path) -> date:
    """The as-of date of a normal build with these vars (run_settings.resolved_as_of_date)."""
    if vars.get("as_of_date"):
        return date.fromisoformat(str(vars["as_of_date"]))
    probe = {**vars, "publish_carried_tables": []}
    rc, output = dbt.run("run", probe, ["--select", "+run_settings"])
    if rc != 0:
        raise BackfillError("could not read the dataset's as-of date: dbt run --select +run_settings failed:\n"
                            + tail(output))
    with duckdb.connect(str(build_db), read_only=True) as con:
        value = con.execute("select max(resolved_as_of_date) from run_settings").fetchone()[0]
    if not value:
        raise BackfillError("the dataset has no dates (run_settings.resolved_as_of_date is empty): load data first")
    return date.fromisoformat(str(value)[:10])


def history_dates(db: Path) -> list[tuple[str, int]]:
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            return [(str(d), n) for d, n in con.execute(
                "select as_of_date, count(*) from segment_history group by 1 order by 1").fetchall()]
    except (duckdb.Error, OSError):
        return []


def backfill(dataset: str, months: int | None = None, as_of_dates: list[date] | None = None,
             vars: dict | None = None, project_dir: Path | None = None, profiles_dir: Path | None = None,
             dbt_extra: list[str] | None = None, final_build: bool = True) -> list[tuple[str, int]]:
    """Write segment_history for each backfill date, then run the normal build.
    Returns the (as_of_date, customers) of the published history."""
    project_dir = Path(project_dir or os.environ.get("SEGMENTS_HOME") or Path.cwd()).resolve()
    profiles_dir = Path(profiles_dir or project_dir).resolve()
    home = Path(os.environ.get("SEGMENTS_HOME") or project_dir)
    base = {**(vars or {}), "dataset": dataset}
    dbt = Dbt(project_dir, profiles_dir, dbt_extra or [])
    build_db, published = build_path(dataset, home), published_path(dataset, home)

    as_of = resolve_as_of_date(dbt, base, build_db)
    dates = as_of_dates if as_of_dates else month_ends(as_of, months or 12)
    later = [d for d in dates if d > as_of]
    if later:
        raise BackfillError(f"as-of date(s) {', '.join(map(str, later))} are after the dataset's as-of date {as_of}: "
                            "nothing may see past it (set as_of_date in --vars to move it)")
    steps = [d for d in dates if d != as_of]
    log(f"dataset {dataset}, as-of date {as_of}: {len(steps)} past as-of date(s) "
        f"{', '.join(map(str, steps)) or '(none)'}, then the normal build at {as_of}")

    for i, day in enumerate(steps, start=1):
        step_vars = {**base, "as_of_date": day.isoformat()}
        if i > 1:
            step_vars["publish_carried_tables"] = []  # keep what the steps before wrote
        started = time.monotonic()
        log(f"{i}/{len(steps)} as-of {day}: dbt build --select {' '.join('+' + m for m in HISTORY_MODELS)} ...")
        rc, output = dbt.run("build", step_vars, HISTORY_SELECT)
        if rc != 0:
            raise BackfillError(
                f"stopped at as-of date {day} (step {i} of {len(steps)}): dbt exited with {rc}.\n"
                f"  Command: {dbt.describe('build', step_vars, HISTORY_SELECT)}\n"
                f"  Nothing was published: {published} keeps its history; fix the cause and run the backfill again.\n"
                + tail(output))
        counts = dict(history_dates(build_db))
        log(f"{i}/{len(steps)} as-of {day}: done in {time.monotonic() - started:.0f}s, "
            f"{counts.get(day.isoformat(), 0):,} customers; history holds {len(counts)} as-of date(s)")

    if not final_build:
        log("no final build (--no-build): the backfilled history is in the build database only; "
            "the next normal build starts again from the published one")
        return history_dates(build_db)
    final_vars = {**base}
    if steps:
        final_vars["publish_carried_tables"] = []
    started = time.monotonic()
    log(f"normal build at {as_of}: dbt build ...")
    rc, output = dbt.run("build", final_vars, [])
    if rc != 0:
        raise BackfillError(
            f"the normal build after the backfill failed (dbt exited with {rc}).\n"
            f"  Command: {dbt.describe('build', final_vars, [])}\n"
            f"  Nothing was published: {published} keeps its history; fix the cause and run the backfill again.\n"
            + tail(output))
    if "Published warehouse" not in output and base.get("publish", True) is not False:
        raise BackfillError("the normal build passed but did not publish the warehouse:\n" + tail(output, 10))
    published_history = history_dates(published)
    log(f"published {published} in {time.monotonic() - started:.0f}s; segment_history: "
        + ", ".join(f"{d} ({n:,})" for d, n in published_history))
    return published_history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segkit.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="demo", help="dataset of the registry (default demo)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--months", type=int, help="the last N month ends on or before the as-of date (default 12)")
    which.add_argument("--as-of-dates", nargs="+", metavar="DATE", help="as-of dates YYYY-MM-DD instead")
    parser.add_argument("--vars", default="{}",
                        help="more dbt vars (YAML mapping) for every build, e.g. '{as_of_date: 2024-06-30}'")
    parser.add_argument("--project-dir", help="dbt project (default $SEGMENTS_HOME or the current folder)")
    parser.add_argument("--profiles-dir", help="dbt profiles folder (default the project)")
    parser.add_argument("--target-path", help="dbt --target-path")
    parser.add_argument("--log-path", help="dbt --log-path")
    parser.add_argument("--no-build", action="store_true",
                        help="skip the final normal build (the history then stays in the build database, unpublished)")
    args = parser.parse_args(argv)
    try:
        extra_vars = yaml.safe_load(args.vars) or {}
        if not isinstance(extra_vars, dict):
            raise BackfillError(f"--vars: expected a mapping, got {args.vars!r}")
        if "publish_carried_tables" in extra_vars:
            raise BackfillError("--vars: publish_carried_tables is set by the backfill itself")
        extra = []
        if args.target_path:
            extra += ["--target-path", args.target_path]
        if args.log_path:
            extra += ["--log-path", args.log_path]
        backfill(args.dataset, months=args.months,
                 as_of_dates=parse_dates(args.as_of_dates) if args.as_of_dates else None,
                 vars=extra_vars, project_dir=args.project_dir, profiles_dir=args.profiles_dir,
                 dbt_extra=extra, final_build=not args.no_build)
    except BackfillError as error:
        print(f"[backfill] error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
