"""Publishing for BI (issue 10, docs/DESIGN.md "Publishing"): dbt writes and tests a build
database; only a full `dbt build` whose every node passed replaces the published
warehouse, in one rename. Readers are never blocked and never see a mix of two builds;
a killed or failing build leaves the published file byte for byte as it was; the file
opens in DuckDB 1.4 / 1.5 clients and through SQLAlchemy reflection with its comments;
a lock conflict is one message naming the process.

One baseline demo build is shared by the module; the other builds (another as-of date,
a killed one, a failing one) run against the same published file, in file order.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import venv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dbt_harness import PROJECT_DIR, dbt_executable, run_dbt
from segkit.publish import load_cache_path

# the DuckDB releases BI tools embed (Evidence bundles 1.4.x; CLI / Node / ODBC 1.5.x)
OLD_CLIENTS = ["1.4.4", "1.5.6"]
# every component changes with the as-of date, so a mix of two builds is a tuple
# that is neither build's
MARKER_SQL = """
select (select max(as_of_date) from customer_rfm)::varchar,
       (select max(resolved_as_of_date) from run_settings)::varchar,
       (select count(*) from customer_rfm where orders > 0),
       (select round(sum(total_spend), 2) from customer_rfm)::varchar,
       (select count(*) from customer_clv)
"""


def dbt_args(workdir: Path, command: str, vars: dict | None = None) -> tuple[list[str], dict]:
    """The command line and environment dbt_harness.run_dbt uses, for a Popen."""
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(workdir / "warehouse.duckdb"),
               SEGMENTS_HOME=str(PROJECT_DIR))
    args = [dbt_executable(), command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs"), "--no-use-colors"]
    if vars:
        args += ["--vars", json.dumps(vars)]
    return args, env


def digest(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_ino, st.st_mtime_ns


def marker(path: Path) -> tuple:
    with duckdb.connect(str(path), read_only=True) as con:
        return tuple(con.execute(MARKER_SQL).fetchone())


def publish_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".publish-" in p.name)


DATE_COLUMNS = {"customers": "signed_up_at", "transactions": "transacted_at", "events": "event_at",
                "subscriptions": "started_at"}


def demo_inputs_until(cutoff: date, out: Path) -> Path:
    """The bundled demo inputs as they stood on `cutoff` (later rows dropped, later
    subscription ends reopened), so a plain build has another as-of date (the default,
    the latest date in the data) without an as_of_date var, which would also override
    the unit tests' own (docs/DESIGN.md, traps)."""
    out.mkdir(parents=True, exist_ok=True)
    day = cutoff.isoformat()
    for entity, column in DATE_COLUMNS.items():
        with open(PROJECT_DIR / "data" / "demo" / f"{entity}.csv", newline="") as src, \
                open(out / f"{entity}.csv", "w", newline="") as dst:
            rows = csv.DictReader(src)
            writer = csv.DictWriter(dst, fieldnames=rows.fieldnames)
            writer.writeheader()
            for row in rows:
                if row[column][:10] > day:
                    continue
                if entity == "subscriptions" and row["ended_at"][:10] > day:
                    row.update(ended_at="", end_reason="", is_churned="false")
                writer.writerow(row)
    return out


@pytest.fixture(scope="module")
def earlier_inputs(tmp_path_factory, published):
    latest = date.fromisoformat(str(marker(published.db_path)[0]))
    return demo_inputs_until(latest - timedelta(days=45), tmp_path_factory.mktemp("demo_inputs"))


@dataclass
class Published:
    """The published warehouse of the shared baseline build (paths as profiles.yml makes them)."""
    db_path: Path       # what BI tools open: $SEGMENTS_DB
    build_db: Path      # what dbt writes: .build/ beside it
    output: str

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    work = tmp_path_factory.mktemp("publishing")
    result = run_dbt(work)  # the demo dataset
    assert result.returncode == 0, result.output[-4000:]
    return Published(work / "warehouse.duckdb", work / ".build" / "warehouse.duckdb", result.output)


def test_a_build_writes_its_own_file_and_publishes_a_clean_copy(published):
    work, build_db = published.db_path.parent, published.build_db
    assert "Published warehouse " + str(published.db_path) in published.output
    # run_dbt leaves the unit tests out (--exclude-resource-type unit_test): still a whole warehouse
    assert " START unit_test " not in published.output and " START test " in published.output
    # the build database holds only what is published: the published file is a copy of its file
    assert "(storage v1.4.0, by file, " in published.output
    assert published.db_path.is_file() and build_db.is_file()
    assert published.db_path.stat().st_ino != build_db.stat().st_ino
    assert not Path(str(published.db_path) + ".wal").exists()
    assert publish_leftovers(work) == []
    names = {r[0] for r in published.query("select table_name from duckdb_tables() where schema_name = 'main'")}
    assert {"customer_rfm", "customer_clv", "run_settings", "rejected_rows"} <= names
    assert not [n for n in names if "__dbt" in n]
    # every published table holds the build's rows (definitions and rows are copied apart)
    with duckdb.connect() as con:
        con.execute(f"attach '{published.db_path}' as pub (read_only)")
        con.execute(f"attach '{build_db}' as bld (read_only)")
        listed = con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'pub' "
                             "order by 1, 2").fetchall()
        counts = [(s, t, con.execute(f'select count(*) from pub."{s}"."{t}"').fetchone()[0],
                   con.execute(f'select count(*) from bld."{s}"."{t}"').fetchone()[0]) for s, t in listed]
        assert [c for c in counts if c[2] != c[3]] == []
        assert sum(c[2] for c in counts) > 100_000
        # the raw load cache of folder inputs is in its own file beside the build database
        # (so the build database holds only what is published and its file is copied)
        assert not [t for _, t in listed if t.startswith("raw_files__")]
        assert not con.execute("select count(*) from duckdb_tables() where database_name = 'bld' "
                               "and table_name like 'raw_files__%'").fetchone()[0]
        con.execute(f"attach '{load_cache_path(build_db)}' as cache (read_only)")
        raw = {t for (t,) in con.execute("select table_name from duckdb_tables() where database_name = 'cache' "
                                         "and table_name like 'raw_files__%'").fetchall()}
        assert len(raw) == 4
    # the internal layers stay queryable (views resolve whatever the catalog is called)
    assert published.scalar("select count(*) from intermediate.int_customers") == 3000
    with duckdb.connect() as con:
        con.execute(f"attach '{published.db_path}' as segments (read_only)")
        assert con.execute("select count(*) from segments.intermediate.int_customers").fetchone()[0] == 3000


def duckdb_client(version: str) -> Path:
    """python of a venv holding only duckdb==version (kept in this venv's folder for reuse)."""
    target = Path(sys.prefix) / "duckdb-clients" / version
    python = target / "bin" / "python"
    if not (target / ".ready").exists():
        staging = target.with_name(f"{version}.{os.getpid()}.tmp")
        venv.create(staging, with_pip=True, clear=True)
        subprocess.run([str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"duckdb=={version}"], check=True)
        (staging / ".ready").touch()
        try:
            staging.rename(target)
        except OSError:  # another run finished first
            subprocess.run(["rm", "-rf", str(staging)], check=True)
        # venv scripts name the staging path; python itself runs from anywhere
    return python


CATALOG_SCRIPT = textwrap.dedent("""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    tables = con.execute("select table_name, comment from duckdb_tables() where database_name = current_database() "
                         "and schema_name = 'main' order by 1").fetchall()
    columns = con.execute("select table_name, column_name, comment from duckdb_columns() where database_name = "
                          "current_database() and schema_name = 'main' and comment is not null order by 1, 2").fetchall()
    rows = con.execute("select count(*) from customer_rfm").fetchone()[0]
    print(json.dumps({"version": duckdb.__version__, "tables": tables, "columns": columns, "rows": rows}))
""")


@pytest.mark.parametrize("version", OLD_CLIENTS)
def test_duckdb_1x_clients_read_the_published_file_with_comments(published, version):
    python = duckdb_client(version)
    out = subprocess.run([str(python), "-c", CATALOG_SCRIPT, str(published.db_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["version"] == version
    expected_tables = published.query("select table_name, comment from duckdb_tables() where database_name = "
                                      "current_database() and schema_name = 'main' order by 1")
    expected_columns = published.query("select table_name, column_name, comment from duckdb_columns() where database_name = "
                                       "current_database() and schema_name = 'main' and comment is not null order by 1, 2")
    assert [tuple(t) for t in seen["tables"]] == expected_tables
    assert [tuple(c) for c in seen["columns"]] == expected_columns
    assert len(expected_columns) > 300 and all(t[1] for t in expected_tables)
    assert seen["rows"] == 3000


def test_sqlalchemy_reflection_lists_marts_and_column_comments(published):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("duckdb_engine")
    # what Superset and other SQLAlchemy BI tools do with the URL in the README
    engine = sqlalchemy.create_engine(f"duckdb:///{published.db_path}", connect_args={"read_only": True},
                                      poolclass=sqlalchemy.pool.NullPool)
    inspector = sqlalchemy.inspect(engine)
    assert "warehouse.main" in inspector.get_schema_names()
    marts = set(inspector.get_table_names(schema="main"))
    assert {"customer_rfm", "customer_clv", "clv_segment_profile", "campaign_targets"} <= marts
    columns = {c["name"]: c.get("comment") for c in inspector.get_columns("customer_rfm", schema="main")}
    assert columns["rfm_segment"] and columns["as_of_date"]
    assert inspector.get_table_comment("customer_clv", schema="main")["text"]
    missing = [(t, c["name"]) for t in sorted(marts) for c in inspector.get_columns(t, schema="main")
               if not c.get("comment")]
    expected_missing = published.query("select c.table_name, c.column_name from duckdb_columns() c join duckdb_tables() t "
                                       "using (database_name, schema_name, table_name) where c.database_name = "
                                       "current_database() and c.schema_name = 'main' and c.comment is null")
    assert sorted(missing) == sorted(expected_missing)
    engine.dispose()

    # the stable catalog name: attach the file as `segments`
    engine = sqlalchemy.create_engine("duckdb:///:memory:", poolclass=sqlalchemy.pool.StaticPool)

    @sqlalchemy.event.listens_for(engine, "connect")
    def attach(dbapi_connection, _):
        dbapi_connection.execute(f"attach '{published.db_path}' as segments (read_only)")
        dbapi_connection.execute("use segments")

    inspector = sqlalchemy.inspect(engine)
    assert "segments.main" in inspector.get_schema_names()
    assert marts <= set(inspector.get_table_names(schema="segments.main"))
    with engine.connect() as con:
        assert con.execute(sqlalchemy.text("select count(*) from customer_rfm")).scalar() == 3000
    engine.dispose()


READER_SCRIPT = textwrap.dedent("""
    import json, os, sys, time, duckdb
    path, kind, log, stop, sql = sys.argv[1:6]
    # held: a dashboard's long-lived connection; fresh: a new connection per query.
    # One kind per process: DuckDB shares one open database per path within a process.
    held = duckdb.connect(path, read_only=True) if kind == "held" else None
    with open(log, "w") as out:
        print(json.dumps({"ready": True}), file=out, flush=True)
        while not os.path.exists(stop):
            started = time.monotonic()
            try:
                if held is not None:
                    row = held.execute(sql).fetchone()
                else:
                    with duckdb.connect(path, read_only=True) as con:
                        row = con.execute(sql).fetchone()
                rec = {"row": [str(v) for v in row]}
            except Exception as exc:
                rec = {"error": f"{type(exc).__name__}: {exc}"}
            rec["seconds"] = time.monotonic() - started
            print(json.dumps(rec), file=out, flush=True)
            time.sleep(0.1)
""")


def test_readers_are_never_blocked_and_never_see_a_mix(published, earlier_inputs, tmp_path):
    db = published.db_path
    old = tuple(str(v) for v in marker(db))
    # carried state: a table that is no model, put in the published warehouse as
    # history would be, and named in var publish_carried_tables
    with duckdb.connect(str(db)) as con:
        con.execute("create table main.carried_dummy as select 42 as answer, 'kept' as note")
        con.execute("comment on table main.carried_dummy is 'carried from build to build'")
        con.execute("comment on column main.carried_dummy.answer is 'the answer'")
    # in the build database: a large table of a model since removed from the project (dbt
    # never drops it; a third of the build database's cells, so this publish copies rows,
    # not the file) and a failed build's version of the carried table
    with duckdb.connect(str(published.build_db)) as con:
        con.execute("create table main.retired_mart as select range as stale from range(2000000)")
        con.execute("create table main.carried_dummy as select -1 as answer, 'failed build' as note")
    stop = tmp_path / "stop"
    logs = {kind: tmp_path / f"{kind}.jsonl" for kind in ("held", "fresh")}
    readers = [subprocess.Popen([sys.executable, "-c", READER_SCRIPT, str(db), kind, str(log), str(stop), MARKER_SQL])
               for kind, log in logs.items()]
    try:
        for _ in range(400):
            if all(log.exists() and log.read_text().strip() for log in logs.values()):
                break
            time.sleep(0.05)
        args, env = dbt_args(db.parent, "build", {"input_dir": str(earlier_inputs),
                                                  "publish_carried_tables": ["carried_dummy"]})
        started = time.monotonic()
        build = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        build_seconds = time.monotonic() - started
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        time.sleep(0.5)  # a few more reads after the publish
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)
    runs = {kind: [json.loads(line) for line in log.read_text().splitlines()[1:]] for kind, log in logs.items()}
    records = runs["held"] + runs["fresh"]
    new = tuple(str(v) for v in marker(db))
    assert new != old and all(a != b for a, b in zip(new[:4], old[:4])), (old, new)

    errors = [r for r in records if "error" in r]
    assert not errors, errors[:3]
    held = [tuple(r["row"]) for r in runs["held"]]
    fresh = [tuple(r["row"]) for r in runs["fresh"]]
    # it really read all along the build
    assert len(held) > 20 and len(fresh) > 20, (len(held), build_seconds)
    # the long-lived connection keeps the build it opened; new connections switch once
    assert set(held) == {old}
    assert set(fresh) <= {old, new}
    switch = fresh.index(new) if new in fresh else len(fresh)
    assert all(row == old for row in fresh[:switch]) and all(row == new for row in fresh[switch:])
    assert new in fresh
    slowest = max(r["seconds"] for r in records)
    assert slowest < 15, slowest  # a lock conflict would be an error, not a wait; this bounds CPU starvation
    print(f"reader: {len(held)} held + {len(fresh)} fresh reads during a {build_seconds:.0f}s build, slowest {slowest:.3f}s")

    # the carried table came through the build into the new warehouse, with its comments
    assert "carried state: main.carried_dummy: carried from" in build.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select answer, note from carried_dummy").fetchall() == [(42, "kept")]
        assert con.execute("select comment from duckdb_tables() where table_name = 'carried_dummy'").fetchone()[0] \
            == "carried from build to build"
        assert con.execute("select comment from duckdb_columns() where table_name = 'carried_dummy' "
                           "and column_name = 'answer'").fetchone()[0] == "the answer"
        assert con.execute("select count(*) from duckdb_tables() where table_name = 'retired_mart'").fetchone()[0] == 0
    assert "left out of the published warehouse (not project relations): main.retired_mart" in build.stdout
    assert re.search(r"by rows: \d+% of the build database's cells are not published", build.stdout), build.stdout[-3000:]
    # by rows, every published table holds the build database's rows
    with duckdb.connect() as con:
        con.execute(f"attach '{db}' as pub (read_only)")
        con.execute(f"attach '{published.build_db}' as bld (read_only)")
        listed = con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'pub'").fetchall()
        differ = [(s, t) for s, t in listed if t != "carried_dummy" and con.execute(
            f'select count(*) from (select * from pub."{s}"."{t}" except all select * from bld."{s}"."{t}")').fetchone()[0]]
        assert len(listed) > 50 and differ == []
    assert publish_leftovers(db.parent) == []


def test_a_killed_build_publishes_nothing(published, earlier_inputs, tmp_path):
    db = published.db_path
    before, published_marker = digest(db), marker(db)
    args, env = dbt_args(db.parent, "build", {"input_dir": str(PROJECT_DIR / "data" / "demo")})
    build = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        # kill it among the marts, well before the end (about 330 nodes)
        for line in build.stdout:
            seen.append(line)
            if sum(" START " in s for s in seen) >= 120:
                break
        os.kill(build.pid, signal.SIGKILL)
    finally:
        build.wait(timeout=60)
    assert build.returncode == -signal.SIGKILL, "".join(seen[-20:])
    assert not any("Published warehouse" in s for s in seen)
    assert digest(db) == before
    assert marker(db) == published_marker
    assert publish_leftovers(db.parent) == []


def test_a_build_whose_test_fails_publishes_nothing(published, tmp_path):
    db = published.db_path
    before = digest(db)
    # other cut-offs break the nexa_sat published-figure test (test_quarantine.py)
    result = run_dbt(db.parent, vars={"dataset": "nexa_sat", "clv_segments": [
        {"label": "High Value", "op": ">", "percentile": 0.9},
        {"label": "Moderate Value", "op": ">=", "percentile": 0.5},
        {"label": "Low Value", "op": ">=", "percentile": 0.25}]})
    assert result.returncode != 0
    assert "assert_nexa_sat_published_figures" in result.output
    assert "Warehouse not published: " in result.output and "did not pass" in result.output
    assert digest(db) == before
    assert publish_leftovers(db.parent) == []


def test_a_build_without_its_data_tests_publishes_nothing(published):
    db = published.db_path
    before = digest(db)
    result = run_dbt(db.parent, vars={"dataset": "nexa_sat"}, extra=["--exclude-resource-type", "test"])
    assert result.returncode == 0, result.output[-4000:]
    assert "Warehouse not published: a partial build" in result.output
    assert digest(db) == before
    assert publish_leftovers(db.parent) == []


def test_a_lock_is_one_message_naming_the_process(published, tmp_path):
    build_db = published.build_db
    holder = subprocess.Popen([sys.executable, "-c",
                               "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
                               "print('open', flush=True); time.sleep(120)", str(build_db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = run_dbt(published.db_path.parent, command="run", extra=["--select", "run_settings"])
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert f"is locked by PID {holder.pid} (" in result.output, result.output[-3000:]
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) < 40
