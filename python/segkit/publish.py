"""Publishing the warehouse for BI tools (a dbt-duckdb plugin; see README "Connecting a BI tool").

Two DuckDB files per target:

* the **build database** (profiles.yml `path`: ``<published dir>/.build/<published name>``, or
  ``$SEGMENTS_BUILD_DB``) is the only file dbt opens. Every model and test of a build
  runs there; a failed or killed build leaves its mess there and nowhere else.
* the **published warehouse** (``$SEGMENTS_DB``, else ``warehouse/<dataset>.duckdb``, the
  place BI tools have always opened) is replaced in one ``os.replace`` by the
  on-run-end hook ``publish_warehouse`` (macros/publish.sql), and only after a full
  ``dbt build`` whose every node passed. The hook makes a temporary file beside the
  published one holding the build database's published relations: by file (checkpoint,
  ``segments_publish_copy`` copies the build database's file, the hook drops what is not
  published) or, when much of the build database is not published (leftovers: the raw
  load cache of folder inputs has its own file, below), by rows (``COPY FROM DATABASE ... (SCHEMA)``, then the rows of the
  tables kept); either way in the profile's ``storage_compatibility_version`` so DuckDB
  1.4+ clients open it. Then ``segments_publish_commit`` (below) renames it over the
  published file.
  A reader that holds the old file keeps reading the old file (POSIX rename keeps the
  inode alive); a new connection opens the new one. Nothing ever writes the
  published file in place, so readers never block a build and never see half of one.

* the **load cache** (``<build name>.load_cache.duckdb`` beside the build database, attached
  as ``segments_load_cache``): the raw rows of folder inputs (``raw_files__<input>``), kept
  from build to build so each reads only new parts; never published.

State that builds extend (``var('publish_carried_tables')``: ``segment_history``,
``model_versions``, ``model_refit_history``) is copied *from the published warehouse into the
build database* when a ``dbt build`` / ``dbt run`` opens its connection, so each build
starts from the last published state, not from whatever a failed build left behind.

The plugin also turns DuckDB's lock conflicts into one clear message naming the process
that holds the file (the build database is only ever contended by another dbt run or
by a tool opened on the wrong file).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import time
import uuid
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt_common.exceptions import DbtRuntimeError

CARRIED_TABLES_VAR = "publish_carried_tables"
# commands that rebuild models and so must start from the published state
CARRY_COMMANDS = frozenset({"build", "run"})
PUBLISHED_ALIAS = "segments_published"
TMP_MARKER = ".publish-"
# The raw load cache of folder inputs (models raw_files__<input>, config database in
# files_raw, macros/file_inputs.sql) lives in its own file beside the build database,
# attached under this name: the build database then holds only what is published, and
# the publish copies its file (a dropped cache would stay in a copied file as free space).
LOAD_CACHE_ALIAS = "segments_load_cache"



def load_cache_path(build_db: str | Path) -> Path:
    """The load cache file of a build database: <build dir>/<build name>.load_cache<suffix>."""
    build = Path(build_db)
    return build.with_name(f"{build.stem}.load_cache{build.suffix}")


_FLOCK = "hhqqi4x"  # struct flock on Linux x86_64/aarch64: type, whence, start, len, pid


class WarehouseLockError(DbtRuntimeError):
    """A DuckDB file is locked by another process (message names it and the fix)."""


# ---------------------------------------------------------------- lock helpers
def lock_holder(path: str | os.PathLike, exclusive: bool = True) -> int | None:
    """PID of another process whose lock on `path` conflicts with the lock we want
    (exclusive = what a writer needs, shared = what a read-only reader needs), or None.

    Uses fcntl F_GETLK, the same POSIX record locks DuckDB takes, so it never takes
    a lock itself. Only call it on a file this process has not opened through DuckDB:
    closing any descriptor of a file drops this process's POSIX locks on it.
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        want = fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK
        res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK, want, os.SEEK_SET, 0, 0, 0))
        kind, _, _, _, pid = struct.unpack(_FLOCK, res)
        return pid if kind != fcntl.F_UNLCK and pid > 0 else None
    except OSError:
        return None
    finally:
        os.close(fd)


def describe_process(pid: int) -> str:
    """'PID 123 (dbt build --vars ...)' from /proc, or just the PID."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmd = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    except OSError:
        cmd = ""
    if len(cmd) > 160:
        cmd = cmd[:157] + "..."
    return f"PID {pid} ({cmd})" if cmd else f"PID {pid}"


def build_lock_message(build_db: str, published: str, pid: int) -> str:
    return (
        f"The build database {build_db} is locked by {describe_process(pid)}.\n"
        "  Another dbt command is using this target's build database (only one may write it at a time),\n"
        "  or a tool opened the build database instead of the published warehouse.\n"
        f"  Fix: wait for that process to finish (or stop it: kill {pid}); point BI tools and\n"
        f"  notebooks at the published file {published}, which builds never lock; or give this\n"
        "  build its own files (SEGMENTS_DB / SEGMENTS_BUILD_DB)."
    )


def published_lock_message(published: str, pid: int) -> str:
    return (
        f"The published warehouse {published} is open for writing by {describe_process(pid)},\n"
        f"  so the tables listed in var('{CARRIED_TABLES_VAR}') cannot be read from it.\n"
        "  Only builds write it (by replacing the whole file); readers should open it read-only.\n"
        f"  Fix: close that connection (or: kill {pid}) and reopen it with read_only=True / -readonly."
    )


# ---------------------------------------------------------------- settings
def parse_table_names(value: Any) -> list[tuple[str, str]]:
    """['segment_history', 'main.x'] -> [('main', 'segment_history'), ('main', 'x')]."""
    if value in (None, "", []):
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise DbtRuntimeError(
            f"var('{CARRIED_TABLES_VAR}'): expected a list of table names (table or schema.table), got {value!r}. "
            "Fix: e.g. publish_carried_tables: [segment_history]")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or item.count(".") > 1:
            raise DbtRuntimeError(
                f"var('{CARRIED_TABLES_VAR}'): {item!r} is not a table name (table or schema.table).")
        schema, _, table = item.strip().rpartition(".")
        out.append(((schema or "main").lower(), table.lower()))
    return out


def dbt_command_and_vars() -> tuple[str | None, dict, str | None]:
    """(subcommand, --vars mapping, project dir) of the running dbt invocation."""
    try:
        from dbt.flags import get_flags

        flags = get_flags()
    except Exception:  # pragma: no cover - outside a dbt invocation
        return None, {}, None
    which = getattr(flags, "WHICH", None)
    cli_vars = getattr(flags, "VARS", None) or {}
    project_dir = getattr(flags, "PROJECT_DIR", None)
    return which, dict(cli_vars) if isinstance(cli_vars, dict) else {}, project_dir


def carried_tables_setting(cli_vars: dict, project_dir: str | None) -> Any:
    """var('publish_carried_tables') as dbt resolves it: --vars, else dbt_project.yml.

    The plugin runs before any macro, so it reads the same two places dbt does (the
    var is project-wide: it is not looked up in dataset_settings). The on-run-end hook
    checks that the list it sees through var() is the list carried here."""
    if CARRIED_TABLES_VAR in cli_vars:
        return cli_vars[CARRIED_TABLES_VAR]
    if not project_dir:
        return []
    import yaml  # installed with dbt-core

    path = Path(project_dir) / "dbt_project.yml"
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except OSError:
        return []
    return (project.get("vars") or {}).get(CARRIED_TABLES_VAR, [])


# ---------------------------------------------------------------- SQL helpers
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_table(conn, src_db: str, dst_db: str, schema: str, table: str) -> None:
    """Replace dst_db.schema.table by a copy of src_db.schema.table with its comments."""
    dst = f"{_q(dst_db)}.{_q(schema)}.{_q(table)}"
    src = f"{_q(src_db)}.{_q(schema)}.{_q(table)}"
    drop_relation(conn, dst_db, schema, table)
    conn.execute(f"create schema if not exists {_q(dst_db)}.{_q(schema)}")
    conn.execute(f"create table {dst} as select * from {src}")
    row = conn.execute(
        "select comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [src_db, schema, table]).fetchone()
    if row and row[0]:
        conn.execute(f"comment on table {dst} is {_lit(row[0])}")
    for column, comment in conn.execute(
            "select column_name, comment from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? and comment is not null", [src_db, schema, table]).fetchall():
        conn.execute(f"comment on column {dst}.{_q(column)} is {_lit(comment)}")


def drop_relation(conn, db: str, schema: str, name: str) -> None:
    kind = conn.execute(
        "select 'table' from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ? "
        "union all select 'view' from duckdb_views() where database_name = ? and schema_name = ? and view_name = ?",
        [db, schema, name, db, schema, name]).fetchone()
    if kind:
        conn.execute(f"drop {kind[0]} {_q(db)}.{_q(schema)}.{_q(name)}")


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(published: Path, keep: str | None = None) -> list[str]:
    """Delete `.<name>.publish-<pid>-<token>.tmp[.wal]` files of publishes that died."""
    removed = []
    prefix = f".{published.name}{TMP_MARKER}"
    for candidate in published.parent.glob(f"{prefix}*"):
        if keep and candidate.name.startswith(Path(keep).name):
            continue
        try:
            pid = int(candidate.name[len(prefix):].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            continue  # another build is publishing right now
        candidate.unlink(missing_ok=True)
        removed.append(str(candidate))
    return removed


# ---------------------------------------------------------------- the plugin
class Plugin(BasePlugin):
    """profiles.yml: plugins: [{module: segkit.publish, config: {published_path: ...}}]."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        published = plugin_config.get("published_path")
        if not published:
            raise DbtRuntimeError("segkit.publish plugin: config published_path is required (profiles.yml)")
        self.published = Path(os.path.abspath(published))
        self.build_db = os.path.abspath(self.creds.path) if self.creds and self.creds.path else None
        if self.build_db and Path(self.build_db) == self.published:
            raise DbtRuntimeError(
                f"The build database and the published warehouse are the same file ({self.published}).\n"
                "  Fix: unset SEGMENTS_BUILD_DB or point it at another file: builds write the build database,\n"
                "  and publishing replaces the published file only after every model and test passed.")
        self.command, cli_vars, project_dir = dbt_command_and_vars()
        self.carried = parse_table_names(carried_tables_setting(cli_vars, project_dir))
        self.carried_done = False
        self.carried_report: list[str] = []

    # before duckdb.connect(build database)
    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        if not self.build_db or self.build_db == ":memory:":
            return
        Path(self.build_db).parent.mkdir(parents=True, exist_ok=True)
        holder = lock_holder(self.build_db, exclusive=True)
        if holder is not None and holder != os.getpid():
            raise WarehouseLockError(build_lock_message(self.build_db, str(self.published), holder))

    def configure_connection(self, conn) -> None:
        cache = ":memory:" if not self.build_db or self.build_db == ":memory:" else str(load_cache_path(self.build_db))
        conn.execute(f"attach if not exists {_lit(cache)} as {LOAD_CACHE_ALIAS}")
        conn.create_function("segments_publish_begin", self._begin, [], "VARCHAR", side_effects=True)
        conn.create_function("segments_publish_copy", self._copy, ["VARCHAR"], "VARCHAR", side_effects=True)
        conn.create_function("segments_publish_commit", self._commit, ["VARCHAR"], "VARCHAR", side_effects=True)
        if self.command in CARRY_COMMANDS and not self.carried_done:
            self.carried_report = self.carry_in(conn)
            self.carried_done = True

    # ------------------------------------------------------------ carry in
    def carry_in(self, conn) -> list[str]:
        """Copy var('publish_carried_tables') from the published warehouse into the build
        database (replacing what a previous, maybe failed, build left there); a table the
        published warehouse lacks is dropped from the build database (first build)."""
        if not self.carried:
            return []
        build_name = conn.execute("select current_database()").fetchone()[0]
        report = []
        if not self.published.exists():
            for schema, table in self.carried:
                drop_relation(conn, build_name, schema, table)
                report.append(f"{schema}.{table}: not published yet, starts empty")
            return report
        holder = lock_holder(self.published, exclusive=False)
        if holder is not None and holder != os.getpid():
            raise WarehouseLockError(published_lock_message(str(self.published), holder))
        conn.execute(f"attach {_lit(str(self.published))} as {PUBLISHED_ALIAS} (read_only)")
        try:
            for schema, table in self.carried:
                found = conn.execute(
                    "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? "
                    "and table_name = ?", [PUBLISHED_ALIAS, schema, table]).fetchone()[0]
                if found:
                    copy_table(conn, PUBLISHED_ALIAS, build_name, schema, table)
                    report.append(f"{schema}.{table}: carried from {self.published}")
                else:
                    drop_relation(conn, build_name, schema, table)
                    report.append(f"{schema}.{table}: not in the published warehouse, starts empty")
        finally:
            conn.execute(f"detach {PUBLISHED_ALIAS}")
        return report

    # ------------------------------------------------------------ UDFs for the hook
    def _begin(self) -> str:
        """A fresh temporary path beside the published file (same filesystem, so the
        final os.replace is atomic) plus what the hook needs to know."""
        self.published.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.published.parent / f".{self.published.name}{TMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        removed = remove_stale_temp_files(self.published)
        return json.dumps({
            "tmp": str(tmp),
            "published": str(self.published),
            "build_db": self.build_db,
            "carried": [f"{s}.{t}" for s, t in self.carried] if self.carried_done else None,
            "carried_report": self.carried_report,
            "removed_stale": removed,
        })

    def _check_tmp(self, tmp: str) -> Path:
        tmp_path = Path(tmp)
        if tmp_path.parent != self.published.parent or TMP_MARKER not in tmp_path.name:
            raise ValueError(f"not a publish temporary file of {self.published}: {tmp}")
        return tmp_path

    def _copy(self, tmp: str) -> str:
        """Copy the build database file to tmp, the hook having checkpointed it ('' when
        copied, else why not, and the hook copies rows instead). Nothing writes to the
        build database while the on-run-end hook runs."""
        tmp_path = self._check_tmp(tmp)
        if not self.build_db or self.build_db == ":memory:" or not os.path.isfile(self.build_db):
            return "the build database is not a file"
        wal = Path(self.build_db + ".wal")
        if wal.exists() and wal.stat().st_size > 0:
            return f"{wal} is not empty after the checkpoint"
        shutil.copyfile(self.build_db, tmp_path)
        return ""

    def _commit(self, tmp: str) -> str:
        """fsync the finished copy, rename it over the published file, fsync the folder."""
        tmp_path = self._check_tmp(tmp)
        if not tmp_path.is_file():
            raise FileNotFoundError(f"publish: {tmp} is missing")
        if Path(tmp + ".wal").exists():
            raise RuntimeError(f"publish: {tmp} still has a write-ahead log; detach it before committing")
        started = time.monotonic()
        _fsync(tmp)
        note = ""
        writer = lock_holder(self.published, exclusive=False)  # only a writer conflicts with a reader's lock
        if writer is not None and writer != os.getpid():
            note = (f" (note: {describe_process(writer)} had the old file open for writing; it keeps that "
                    "copy and its changes are not in the new one: open the warehouse read-only)")
        os.replace(tmp, self.published)
        _fsync(str(self.published.parent), directory=True)
        return f"{self.published} replaced in {time.monotonic() - started:.2f}s{note}"
