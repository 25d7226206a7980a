"""`make bench`: the speed and memory benchmark (never a timed unit test).

Generates the demo business at scale as Parquet (cached), builds the whole
warehouse on it with `dbt build` (dataset files), and reports wall time and peak
memory of the generation and of the build, plus each model's time from dbt's
run_results.json (clustering, BG/NBD fitting and scoring, churn models ...).

    python -m segkit.bench [--customers 1000000] [--select ...] [--out warehouse/bench]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _run(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run cmd in a fresh wrapper process (so peak memory is this command's own);
    stream its output to log; return (seconds, peak RSS in GB, exit code)."""
    peak_file = log.with_suffix(".peak")
    started = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "segkit.bench", "--child", str(peak_file), "--", *cmd],
                              env=env, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    peak_kb = float(peak_file.read_text()) if peak_file.exists() else float("nan")
    return seconds, peak_kb / 1024 / 1024, proc.returncode


def _child(peak_file: str, cmd: list[str]) -> int:
    """Run cmd and write the peak RSS (KB) of it and its children to peak_file."""
    rc = subprocess.run(cmd).returncode
    Path(peak_file).write_text(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    return rc


STEPS = ("clustering", "clv_forecast", "churn")

# the input layer's load + validation of transactions, against a plain typed read of the same file
LOAD_NODE = "base_files__transactions"
LOAD_TARGET_RATIO = 2.0


def _plain_typed_read(data: str) -> int:
    """The floor for loading transactions: one `create table as select` with the
    contract's casts and nothing else (no checks, no duplicate detection)."""
    import duckdb

    source = f"{data}/transactions.parquet" if Path(f"{data}/transactions.parquet").exists() else f"{data}/transactions/*.parquet"
    target = Path(data).parent / "plain_read.duckdb"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    # written to a database file in the profile's storage version, as the load is
    with duckdb.connect(str(target), config={"storage_compatibility_version": "v1.4.0"}) as con:
        con.execute("set preserve_insertion_order = true")
        con.execute(f"""create table plain as select cast(transaction_id as varchar) as transaction_id,
            cast(customer_id as varchar) as customer_id, cast(transacted_at as timestamp) as transacted_at,
            cast(amount as decimal(18,2)) as amount, cast(product_id as varchar) as product_id,
            cast(product_category as varchar) as product_category, cast(creator_id as varchar) as creator_id,
            cast(channel as varchar) as channel, cast(quantity as integer) as quantity
            from read_parquet('{source}')""")
        rows = con.execute("select count(*) from plain").fetchall()[0][0]
        con.execute("checkpoint")
    target.unlink(missing_ok=True)
    print(f"[bench] plain typed read: {rows:,} rows in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def _step(name: str, db: str) -> int:
    """Run one Python step alone on a built bench warehouse (read-only), so its own
    time and peak memory can be measured: the same functions the dbt Python models call."""
    import duckdb

    from segkit import dbt_steps

    with duckdb.connect(db, read_only=True) as con:
        settings = dbt_steps.read_settings(con.execute("select setting_name, value_json from run_settings").fetchall())
        if name == "clustering":
            out = dbt_steps.clustering_step(con.execute("select * from cluster_input").df(), settings)
        elif name == "clv_forecast":
            rfm = con.execute("select * from customer_rfm").df()
            params = dbt_steps.fit_clv_models(rfm, settings)
            out = dbt_steps.score_clv(rfm, params, settings)
        else:
            out = dbt_steps.churn_step(con.execute("select * from churn_model_input").df(), settings)
    print(f"[bench] step {name}: {len(out):,} rows out", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[3:])
    if argv[:1] == ["--step"]:
        return _step(argv[1], argv[2])
    if argv[:1] == ["--plain-read"]:
        return _plain_typed_read(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--select", default=None, help="dbt --select (default: everything)")
    parser.add_argument("--threads", default=os.environ.get("SEGMENTS_THREADS", "2"))
    args = parser.parse_args(argv)

    home = Path(os.environ.get("SEGMENTS_HOME", Path(__file__).resolve().parents[2]))
    out = (args.out or home / "warehouse" / "bench").resolve()
    data = out / f"data_{args.customers}_{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_HOME=str(home), SEGMENTS_THREADS=str(args.threads))
    report: list[str] = [f"# Benchmark: {args.customers:,} customers (seed {args.seed})", ""]

    if not (data / "customers.parquet").exists():
        shutil.rmtree(data, ignore_errors=True)
        print(f"[bench] generating {args.customers:,} customers into {data}", file=sys.stderr, flush=True)
        secs, gb, rc = _run([sys.executable, "-m", "segkit.generate", "--customers", str(args.customers),
                             "--seed", str(args.seed), "--out", str(data), "--format", "parquet"], env, out / "generate.log")
        if rc:
            print((out / "generate.log").read_text()[-3000:], file=sys.stderr)
            return rc
        (data / "customer_types.parquet").rename(out / f"customer_types_{args.customers}.parquet")
        report.append(f"- generate: {secs:.1f} s, peak RSS {gb:.2f} GB")
    else:
        report.append(f"- generate: cached in {data}")

    db = out / "bench.duckdb"
    if db.exists():
        db.unlink()
    dbt = str(Path(sys.executable).with_name("dbt"))
    cmd = [dbt, "build", "--project-dir", str(home), "--profiles-dir", str(home),
           "--target-path", str(out / "target"), "--log-path", str(out / "logs"),
           "--vars", json.dumps({"dataset": "files", "input_dir": str(data)})]
    if args.select:
        cmd += ["--select", args.select]
    env["SEGMENTS_DB"] = str(db)
    print(f"[bench] dbt build on {data} (log: {out / 'dbt.log'})", file=sys.stderr, flush=True)
    secs, gb, rc = _run(cmd, env, out / "dbt.log")
    report.append(f"- dbt build: {secs:.1f} s, peak RSS {gb:.2f} GB, exit code {rc}")
    results = out / "target" / "run_results.json"
    if results.exists():
        rows = json.loads(results.read_text())["results"]
        timed = sorted(((r["execution_time"], r["unique_id"].split(".")[-1], r["status"]) for r in rows), reverse=True)
        report += ["", "| node | seconds | status |", "| --- | ---: | --- |"]
        report += [f"| {name} | {t:.1f} | {status} |" for t, name, status in timed[:25]]
        load = next((t for t, name, _ in timed if name == LOAD_NODE), None)
        if load is not None:
            plain, _, rc_p = _run([sys.executable, "-m", "segkit.bench", "--plain-read", str(data)], env, out / "plain_read.log")
            # the child's wall time includes starting Python and DuckDB; subtract nothing (conservative)
            ratio = load / plain if plain else float("nan")
            report += ["", f"Input layer: {LOAD_NODE} (load + validate transactions) {load:.1f} s against a plain typed "
                       f"read of the same file (create table as select with the casts) {plain:.1f} s in the same run: "
                       f"ratio {ratio:.2f} (target <= {LOAD_TARGET_RATIO:.0f}: {'met' if ratio <= LOAD_TARGET_RATIO else 'NOT met'})."]
    if db.exists() and rc == 0:
        report += ["", "Python steps alone on the built warehouse (fit + score, one process each):", ""]
        for step in STEPS:
            secs_s, gb_s, rc_s = _run([sys.executable, "-m", "segkit.bench", "--step", step, str(db)], env, out / f"step_{step}.log")
            report.append(f"- {step}: {secs_s:.1f} s, peak RSS {gb_s:.2f} GB{'' if rc_s == 0 else f', FAILED (exit {rc_s})'}")
    if db.exists():
        import duckdb

        with duckdb.connect(str(db), read_only=True) as con:
            counts = []
            for table in ("int_transactions", "int_events", "customer_rfm", "customer_clusters",
                          "customer_clv_forecast", "customer_churn_risk"):
                try:
                    schema = "intermediate." if table.startswith("int_") else ""
                    counts.append(f"{table} {con.execute(f'select count(*) from {schema}{table}').fetchone()[0]:,}")
                except duckdb.Error:
                    pass
        report += ["", "Rows: " + "; ".join(counts)]
    text = "\n".join(report)
    (out / "report.md").write_text(text + "\n")
    print(text)
    if rc:
        print((out / "dbt.log").read_text()[-3000:], file=sys.stderr)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
