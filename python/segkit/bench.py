"""`make bench`: the speed and memory benchmark (never a timed unit test).

Generates the demo business at scale as Parquet (cached), builds the whole
warehouse on it with `dbt build` (dataset files) and writes
`warehouse/bench/report.md` with issue 11's three targets, each beside the
reference it is compared against and the ratio:

1. the full build at --customers (default 1,000,000): wall and peak RSS against
   120 s / 6 GB, every model and test included (the headline line
   `dbt build: <s> s, peak RSS <GB> GB, exit code <n>`);
2. the RFM path (`dbt build --select +customer_rfm`, transactions and customers
   only) at --rfm-customers (default 2,500,000: about 50M transactions) against
   one plain DuckDB scan + group-by of the same file in the same run, and at
   250,000 customers (about 5M transactions) against lifetimes'
   `summary_data_from_transaction_data` (when lifetimes is installed);
3. a scaling table and chart (scaling.svg): wall time and peak memory per stage
   (load, SQL marts, each Python step, tests, hooks) of a full build at each
   --scaling size plus --customers, with the growth exponent per stage.

Per stage, "node s" is the sum of dbt's execution times of the stage's nodes,
"span s" first start to last end (2 threads overlap stages), and "peak GB" the
highest RSS of the dbt process sampled (every 0.2 s) while a node of the stage
ran. Python steps alone on the built warehouse follow, then per model (bg_nbd,
pareto_nbd, mbg_nbd, gamma_gamma, bgbb, sbg) the fit on the weighted unique rows and
the score of every customer, seconds and peak RSS each (`--only models [--db ...]`
runs that table alone on a built warehouse). Then issue 14's periodic refresh
(`--only refresh` alone): the data as parts (transactions and events up to the
last day in part 0), a full build of a new warehouse, then the last day's parts
added and the same command again; the second build's wall time against the first's
(target <= 0.15). Every timed build is preceded
by an untimed `dbt parse` into the same target folder, so it starts as a user's second
run does (partial parsing), not with a full parse of the project.

    python -m segkit.bench [--customers 1000000] [--scaling 100000,300000]
                           [--rfm-customers 2500000,250000] [--select ...] [--quick]
                           [--only full|rfm|models|refresh] [--db warehouse.duckdb]
"""
from __future__ import annotations

import argparse
import contextlib
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


def _tree_rss_kb(pid: int) -> int:
    """Resident memory (KB) of pid and its descendants, from /proc (Linux)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def _child(peak_file: str, cmd: list[str]) -> int:
    """Run cmd and write the peak RSS (KB) of it and its children to peak_file;
    beside it (.rss) the RSS of the process tree sampled every 0.2 s as
    `<unix seconds> <KB>` lines, so a stage's peak can be read per time window."""
    proc = subprocess.Popen(cmd)
    with open(Path(peak_file).with_suffix(".rss"), "w") as samples:
        while proc.poll() is None:
            samples.write(f"{time.time():.2f} {_tree_rss_kb(proc.pid)}\n")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
    Path(peak_file).write_text(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    return proc.returncode


STEPS = ("clustering", "clv_forecast", "churn", "tier_change")

# the input layer's load + validation of transactions, against a plain typed read of the same file
LOAD_NODE = "base_files__transactions"
LOAD_TARGET_RATIO = 2.0


def _scan_floor(data: str) -> int:
    """The floor of the RFM path: one DuckDB scan + group-by of the transactions file
    (count, sum, min, max, distinct days per customer), nothing written."""
    import duckdb

    source = f"{data}/transactions.parquet"
    started = time.perf_counter()
    with duckdb.connect() as con:
        rows = con.execute(f"""select count(*) from (select customer_id, count(*), sum(amount), min(transacted_at),
            max(transacted_at), count(distinct cast(transacted_at as date))
            from read_parquet('{source}') group by customer_id)""").fetchone()[0]
    print(f"[bench] scan + group-by: {rows:,} customers in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def _lifetimes_summary(data: str, as_of: str) -> int:
    """The lifetimes reference: read the transactions file with pandas and run
    lifetimes.utils.summary_data_from_transaction_data (frequency, recency, T and
    monetary value per customer); prints the seconds of the summary alone."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    frame = pd.read_parquet(f"{data}/transactions.parquet", columns=["customer_id", "transacted_at", "amount"])
    frame = frame[frame["amount"] > 0]
    frame["amount"] = frame["amount"].astype(float)
    started = time.perf_counter()
    summary = summary_data_from_transaction_data(frame, "customer_id", "transacted_at", monetary_value_col="amount",
                                                 observation_period_end=as_of, freq="D")
    print(f"MODEL_SECONDS {time.perf_counter() - started:.3f}")
    print(f"[bench] lifetimes summary: {len(summary):,} customers", file=sys.stderr)
    return 0


def _timed_table(target: Path, sql: str, label: str, attach: str | None = None) -> int:
    """`create table as` sql into a new database file target, written as the load is
    (the profile's storage version, insertion order kept; attach: a database to read
    from, read-only, under its file name), then checkpointed; prints the rows and the
    seconds, and deletes the file."""
    import duckdb

    target.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(target), config={"storage_compatibility_version": "v1.4.0"}) as con:
        con.execute("set preserve_insertion_order = true")
        if attach:
            con.execute(f"attach '{attach}' as \"{Path(attach).stem}\" (read_only)")
        con.execute(f"create table timed as {sql}")
        rows = con.execute("select count(*) from timed").fetchall()[0][0]
        con.execute("checkpoint")
    target.unlink(missing_ok=True)
    print(f"[bench] {label}: {rows:,} rows in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def _plain_typed_read(data: str) -> int:
    """The floor for loading transactions: one `create table as select` with the
    contract's casts and nothing else (no checks, no duplicate detection)."""
    source = f"{data}/transactions.parquet" if Path(f"{data}/transactions.parquet").exists() else f"{data}/transactions/*.parquet"
    return _timed_table(Path(data).parent / "plain_read.duckdb", f"""select cast(transaction_id as varchar) as transaction_id,
            cast(customer_id as varchar) as customer_id, cast(transacted_at as timestamp) as transacted_at,
            cast(amount as decimal(18,2)) as amount, cast(product_id as varchar) as product_id,
            cast(product_category as varchar) as product_category, cast(creator_id as varchar) as creator_id,
            cast(channel as varchar) as channel, cast(quantity as integer) as quantity
            from read_parquet('{source}')""", "plain typed read")


def _load_alone(compiled_sql: str, build_db: str) -> int:
    """The load node's own query (dbt's compiled SQL of LOAD_NODE) run alone, with the
    build database attached read-only for what it reads (base_files__customers) and
    nothing else running: the like-for-like counterpart of the plain typed read. In
    the build the node runs beside base_files__events, the two loads sharing the
    cores, so its build time is not comparable with a read that has the machine to
    itself."""
    return _timed_table(Path(build_db).parent / "load_alone.duckdb", Path(compiled_sql).read_text(),
                        f"{LOAD_NODE} alone", attach=build_db)


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
        elif name == "tier_change":
            out = dbt_steps.tier_change_step(con.execute("select * from churn_model_input").df(), settings)
        elif name == "churn":
            out = dbt_steps.churn_step(con.execute("select * from churn_model_input").df(), settings)
        else:
            raise SystemExit(f"unknown step {name!r}; one of clustering, clv_forecast, churn, tier_change")
    print(f"[bench] step {name}: {len(out):,} rows out", file=sys.stderr)
    return 0


# Per model (issue 13): fit on the weighted unique rows and score every customer, each
# in its own process on the built warehouse, read from the model's input table.
BENCH_MODELS = ("bg_nbd", "pareto_nbd", "mbg_nbd", "gamma_gamma", "bgbb", "sbg")


def _model_bench(name: str, db: str) -> int:
    """Fit one model on the unique rows of its input with their counts, then score
    every row of the input; prints CUSTOMERS, UNIQUE_ROWS, FIT_SECONDS and
    SCORE_SECONDS lines for the report (the process's peak RSS is measured by _run).
    Fit = grouping + maximum likelihood (standard errors included where the fitter
    computes them); score = the per-customer quantities the warehouse writes."""
    import duckdb
    import numpy as np

    from segkit import btyd, btyd_family, contractual

    with duckdb.connect(db, read_only=True) as con:
        if name in ("bg_nbd", "pareto_nbd", "mbg_nbd", "gamma_gamma"):
            frame = con.execute("select frequency, recency, t, monetary_value from customer_rfm "
                                "where frequency is not null and t is not null").df()
        elif name == "bgbb":
            frame = con.execute("select frequency, recency, n_opportunities from bgbb_input "
                                "where n_opportunities > 0").df()
        elif name == "sbg":
            frame = con.execute("select renewals_at_as_of, is_lost_at_as_of, renewals_at_calibration, "
                                "is_lost_at_calibration from sbg_input where renewals_at_calibration is not null").df()
        else:
            raise SystemExit(f"unknown model {name!r}; one of {', '.join(BENCH_MODELS)}")
    frame = frame.rename(columns=str.lower)  # customer_rfm's T
    frame = frame.astype({c: "float64" for c in frame.columns if not c.startswith("is_")})
    started = time.perf_counter()
    if name == "gamma_gamma":
        keys = ["frequency", "monetary_value"]
        g = frame[frame["frequency"] > 0].groupby(keys, sort=True).size().reset_index(name="n")
        fitter = btyd.GammaGammaFitter().fit(g["frequency"], g["monetary_value"], weights=g["n"])
    elif name == "bgbb":
        keys = ["frequency", "recency", "n_opportunities"]
        g = frame.groupby(keys, sort=True).size().reset_index(name="n")
        fitter = contractual.BetaGeometricBetaBinomial().fit(g[keys[0]], g[keys[1]], g[keys[2]], weights=g["n"])
    elif name == "sbg":
        keys = ["renewals_at_calibration", "is_lost_at_calibration"]
        g = frame.groupby(keys, sort=True).size().reset_index(name="n")
        fitter = contractual.ShiftedBetaGeometric().fit(g[keys[0]], g[keys[1]].astype(bool), weights=g["n"])
    else:
        keys = ["frequency", "recency", "t"]
        g = frame.groupby(keys, sort=True).size().reset_index(name="n")
        fitter = btyd_family.MODELS[name]().fit(g[keys[0]], g[keys[1]], g[keys[2]], weights=g["n"])
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    if name == "gamma_gamma":
        out = [fitter.conditional_expected_average_profit(frame["frequency"], frame["monetary_value"].fillna(0.0))]
    elif name == "bgbb":
        x, t_x, n = frame["frequency"], frame["recency"], frame["n_opportunities"]
        out = [fitter.probability_alive(x, t_x, n), fitter.conditional_expected_transactions(5, x, t_x, n)]
    elif name == "sbg":
        r = frame["renewals_at_as_of"].dropna().to_numpy()
        out = [fitter.retention_rate(r + 1), fitter.derl(r, 0.1)]
    else:
        x, t_x, T = frame["frequency"], frame["recency"], frame["t"]
        out = [fitter.conditional_probability_alive(x, t_x, T),
               fitter.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T)]
    score_s = time.perf_counter() - started
    print(f"CUSTOMERS {len(frame)}\nUNIQUE_ROWS {len(g)}\nFIT_SECONDS {fit_s:.3f}\nSCORE_SECONDS {score_s:.3f}")
    print(f"[bench] model {name}: {len(frame):,} rows ({len(g):,} unique), fit {fit_s:.2f} s, score {score_s:.2f} s, "
          f"{sum(int(np.isfinite(np.asarray(o, float)).sum()) for o in out):,} finite values", file=sys.stderr)
    return 0


def _models_section(db: Path, out: Path, env: dict[str, str]) -> list[str]:
    """The per-model table: one process per model on the warehouse db."""
    lines = ["", f"## Per model: fit and score on {db.name} (one process each)", "",
             "Fit: the model's input grouped into unique rows with their counts, then maximum likelihood; "
             "score: P(alive) and the expected transactions (BTYD: over 52 of its time units; BG/BB: 5 periods), the expected "
             "spend (Gamma-Gamma), the next-renewal probability and DERL (sBG) of every row. Peak RSS is the "
             "process's, reading the input included.", "",
             "| model | input rows | unique rows | fit s | score s | process s (read included) | peak RSS GB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in BENCH_MODELS:
        log = out / f"model_{name}.log"
        secs, gb, rc = _run([sys.executable, "-m", "segkit.bench", "--model", name, str(db)], env, log)
        got = {}
        for line in log.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in ("CUSTOMERS", "UNIQUE_ROWS", "FIT_SECONDS", "SCORE_SECONDS"):
                got[key] = value
        if rc or len(got) < 4:
            lines.append(f"| {name} | FAILED (exit {rc}, {log.name}) | | | | {secs:.1f} | {gb:.2f} |")
            continue
        lines.append(f"| {name} | {int(got['CUSTOMERS']):,} | {int(got['UNIQUE_ROWS']):,} | {float(got['FIT_SECONDS']):.2f} "
                     f"| {float(got['SCORE_SECONDS']):.2f} | {secs:.1f} | {gb:.2f} |")
    return lines


FULL_BUILD_TARGET_S = 120.0
FULL_BUILD_TARGET_GB = 6.0
RFM_FLOOR_TARGET_RATIO = 2.0
LIFETIMES_END_TO_END_TARGET = 3.0
LIFETIMES_MODEL_TARGET = 10.0
# issue 14: a build adding one day of data costs at most this share of a full build
REFRESH_TARGET_RATIO = 0.15
RFM_SELECT = "+customer_rfm"


def _generate(customers: int, seed: int, out: Path, env: dict[str, str], report: list[str]) -> Path | None:
    """The generated Parquet data for `customers` (cached under out)."""
    data = out / f"data_{customers}_{seed}"
    if (data / "customers.parquet").exists():
        report.append(f"- generate {customers:,} customers: cached in {data}")
        return data
    shutil.rmtree(data, ignore_errors=True)
    print(f"[bench] generating {customers:,} customers into {data}", file=sys.stderr, flush=True)
    log = out / f"generate_{customers}.log"
    secs, gb, rc = _run([sys.executable, "-m", "segkit.generate", "--customers", str(customers),
                         "--seed", str(seed), "--out", str(data), "--format", "parquet"], env, log)
    if rc:
        print(log.read_text()[-3000:], file=sys.stderr)
        return None
    (data / "customer_types.parquet").rename(out / f"customer_types_{customers}.parquet")
    report.append(f"- generate {customers:,} customers: {secs:.1f} s, peak RSS {gb:.2f} GB")
    return data


def _dbt_build(home: Path, out: Path, name: str, data: Path, env: dict[str, str],
               select: str | None = None, fresh: bool = True, log_name: str | None = None) -> tuple[float, float, int, Path]:
    """`dbt build` of the files dataset on data into out/<name>.duckdb; returns
    (seconds, peak GB, exit code, target folder). fresh: start from no warehouse
    (else the next build of the same warehouse: a periodic refresh); log_name: the
    log's and target folder's name (default name)."""
    db = out / f"{name}.duckdb"
    if fresh:
        # the published file, the build database and its load cache (segkit.publish), with their WALs
        from segkit.publish import load_cache_path

        build_db = out / ".build" / f"{name}.duckdb"
        for stale in (db, build_db, load_cache_path(build_db)):
            stale.unlink(missing_ok=True)
            Path(f"{stale}.wal").unlink(missing_ok=True)
    name = log_name or name
    dbt = str(Path(sys.executable).with_name("dbt"))
    target = out / f"target_{name}"
    cmd = [dbt, "build", "--project-dir", str(home), "--profiles-dir", str(home),
           "--target-path", str(target), "--log-path", str(out / "logs"),
           "--vars", json.dumps({"dataset": "files", "input_dir": str(data)})]
    # parse first (not timed, as a user's second run): the timed build then starts with
    # dbt's partial parsing instead of a full parse of the project (~20-50 s here)
    parse = [dbt, "parse", *cmd[2:]]
    _run(parse, dict(env, SEGMENTS_DB=str(db)), out / f"{name}_parse.log")
    if select:
        cmd += ["--select", select]
    print(f"[bench] dbt build {name} on {data}{f' --select {select}' if select else ''} (log: {out / (name + '.log')})",
          file=sys.stderr, flush=True)
    secs, gb, rc = _run(cmd, dict(env, SEGMENTS_DB=str(db)), out / f"{name}.log")
    return secs, gb, rc, target


def _iso_seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _stage_table(target: Path, rss_file: Path) -> dict[str, tuple[float, float, float]]:
    """Per stage: (node seconds, span seconds, peak GB sampled while a node of it ran)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    samples = []
    if rss_file.exists():
        for line in rss_file.read_text().splitlines():
            t, kb = line.split()
            samples.append((float(t), int(kb)))
    stages: dict[str, list[tuple[float, float, float]]] = {}
    for r in results:
        uid = r["unique_id"]
        node = nodes.get(uid, {})
        kind = node.get("resource_type", uid.split(".")[0])
        path = node.get("original_file_path", "")
        if kind in ("test", "unit_test"):
            stage = "tests"
        elif kind == "operation" or uid.startswith("operation."):
            stage = "hooks (settings, publish)"
        elif kind == "seed" or path.startswith(("models/staging", "models/intermediate")):
            stage = "load (staging + intermediate)"
        elif node.get("language") == "python":
            stage = f"python: {uid.split('.')[-1]}"
        else:
            stage = "SQL marts"
        execute = next((t for t in r.get("timing", []) if t.get("name") == "execute" and t.get("started_at")), None)
        if execute is None:
            stages.setdefault(stage, []).append((r["execution_time"], float("nan"), float("nan")))
            continue
        stages.setdefault(stage, []).append((r["execution_time"], _iso_seconds(execute["started_at"]),
                                             _iso_seconds(execute["completed_at"])))
    table = {}
    for stage, spans in stages.items():
        node_s = sum(s for s, _, _ in spans)
        timed = [(a, b) for _, a, b in spans if a == a]
        span_s = max(b for _, b in timed) - min(a for a, _ in timed) if timed else float("nan")
        peak = max((kb for t, kb in samples if any(a - 0.2 <= t <= b + 0.2 for a, b in timed)), default=0)
        table[stage] = (node_s, span_s, peak / 1024 / 1024)
    return table


def _stage_order(name: str) -> tuple[int, str]:
    order = ["load", "SQL marts", "python", "tests", "hooks"]
    return next((i for i, prefix in enumerate(order) if name.startswith(prefix)), len(order)), name


def _scaling_svg(sizes: list[int], walls: list[float], peaks: list[float], path: Path) -> None:
    """A small log-log chart (no dependencies): wall seconds and peak GB against
    customers, with the linear-cost line through the smallest size."""
    import math

    w, h, pad = 560, 320, 50
    xs = [math.log10(n) for n in sizes]
    series = [("wall s", walls, "#1f77b4"), ("peak GB", peaks, "#d62728")]
    values = [v for _, vals, _ in series for v in vals if v > 0] + [walls[0] * sizes[-1] / sizes[0]]
    lo, hi = math.log10(min(values)) - 0.1, math.log10(max(values)) + 0.1
    x0, x1 = min(xs) - 0.05, max(xs) + 0.05

    def pt(x: float, v: float) -> str:
        return (f"{pad + (x - x0) / (x1 - x0) * (w - 2 * pad):.1f},"
                f"{h - pad - (math.log10(v) - lo) / (hi - lo) * (h - 2 * pad):.1f}")

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="16" text-anchor="middle">full build cost against customers (log-log)</text>']
    for _label, vals, colour in series:
        pts = " ".join(pt(x, v) for x, v in zip(xs, vals) if v > 0)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        for x, v, _n in zip(xs, vals, sizes):
            if v > 0:
                cx, cy = pt(x, v).split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
                parts.append(f'<text x="{float(cx) + 5}" y="{float(cy) - 5}">{v:.1f}</text>')
    linear = [walls[0] * n / sizes[0] for n in sizes]
    parts.append('<polyline fill="none" stroke="#999" stroke-dasharray="4 3" '
                 f'points="{" ".join(pt(x, v) for x, v in zip(xs, linear))}"/>')
    for x, n in zip(xs, sizes):
        cx = pt(x, 10 ** lo).split(",")[0]
        parts.append(f'<text x="{cx}" y="{h - pad + 16}" text-anchor="middle">{n:,}</text>')
    parts.append(f'<text x="{pad}" y="{h - 8}">blue: wall s; red: peak GB; dashed: linear cost from the smallest size</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def _full_builds(args: argparse.Namespace, home: Path, out: Path, env: dict[str, str], report: list[str]) -> int:
    """Target 1 and the scaling table (target 3): a full build per size."""
    import math

    sizes = sorted({*args.scaling, args.customers})
    rows: dict[int, tuple[float, float, int, dict[str, tuple[float, float, float]]]] = {}
    headline_rc = 0
    for n in sizes:
        data = _generate(n, args.seed, out, env, report)
        if data is None:
            return 1
        name = "bench" if n == args.customers else f"bench_{n}"
        secs, gb, rc, target = _dbt_build(home, out, name, data, env, args.select)
        stages = _stage_table(target, (out / f"{name}.log").with_suffix(".rss")) if (target / "run_results.json").exists() else {}
        rows[n] = (secs, gb, rc, stages)
        if n == args.customers:
            headline_rc = rc
            report.append(f"- dbt build: {secs:.1f} s, peak RSS {gb:.2f} GB, exit code {rc}")
            if (target / "run_results.json").exists():
                results = json.loads((target / "run_results.json").read_text())["results"]
                timed = sorted(((r["execution_time"], r["unique_id"].split(".")[-1], r["status"]) for r in results), reverse=True)
                args._timed = timed
                args._load_sql = target / "compiled" / "segment_warehouse" / "models" / "staging" / "files" / f"{LOAD_NODE}.sql"
                args._build_db = out / ".build" / f"{name}.duckdb"
        if rc:
            print((out / f"{name}.log").read_text()[-3000:], file=sys.stderr)
    secs, gb, rc, _ = rows[args.customers]
    report += ["", f"## Target 1: full build at {args.customers:,} customers", "",
               "| measure | this run | target | ratio to target | met |", "| --- | ---: | ---: | ---: | --- |",
               f"| wall (every model and test) | {secs:.1f} s | {FULL_BUILD_TARGET_S:.0f} s | {secs / FULL_BUILD_TARGET_S:.2f} | "
               f"{'yes' if secs <= FULL_BUILD_TARGET_S and rc == 0 else 'no'} |",
               f"| peak RSS | {gb:.2f} GB | {FULL_BUILD_TARGET_GB:.0f} GB | {gb / FULL_BUILD_TARGET_GB:.2f} | "
               f"{'yes' if gb <= FULL_BUILD_TARGET_GB and rc == 0 else 'no'} |"]
    timed = getattr(args, "_timed", [])
    if timed:
        report += ["", "Slowest nodes (dbt execution seconds, 2 threads):", "",
                   "| node | seconds | status |", "| --- | ---: | --- |"]
        report += [f"| {node} | {t:.1f} | {status} |" for t, node, status in timed[:25]]
    if len(sizes) > 1:
        stage_names = sorted({s for *_, st in rows.values() for s in st}, key=_stage_order)
        head = " | ".join(f"{n:,}: node s / span s / peak GB" for n in sizes)
        report += ["", f"## Target 3: scaling ({', '.join(f'{n:,}' for n in sizes)} customers)", "",
                   f"| stage | {head} | growth exponent (node s) |", "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |"]
        lo, hi = sizes[0], sizes[-1]
        for stage in stage_names:
            cells = []
            for n in sizes:
                v = rows[n][3].get(stage)
                cells.append("-" if v is None else f"{v[0]:.1f} / {v[1]:.1f} / {v[2]:.2f}")
            a, b = rows[lo][3].get(stage), rows[hi][3].get(stage)
            exp = math.log(b[0] / a[0]) / math.log(hi / lo) if a and b and a[0] > 0 and b[0] > 0 else float("nan")
            report.append(f"| {stage} | {' | '.join(cells)} | {exp:.2f} |")
        walls = [rows[n][0] for n in sizes]
        peaks = [rows[n][1] for n in sizes]
        report.append("| **whole build (wall s / peak GB)** | "
                      + " | ".join(f"{w:.1f} / - / {p:.2f}" for w, p in zip(walls, peaks))
                      + f" | {math.log(walls[-1] / walls[0]) / math.log(hi / lo):.2f} |")
        # peak memory grows with customers; the largest size within 24 GB, by linear extrapolation
        # from the two largest sizes measured (an estimate, not a measured build)
        n1, n2 = sizes[-2], sizes[-1]
        p1, p2 = rows[n1][1], rows[n2][1]
        slope = (p2 - p1) / (n2 - n1) if n2 != n1 else float("nan")
        biggest = n2 + (24.0 - p2) / slope if slope and slope > 0 else float("nan")
        report += ["", "A growth exponent of 1.00 is linear cost (node seconds at the largest size over the smallest, "
                   "on a log-log scale); below 1 is sub-linear (fixed costs dominate the small sizes).",
                   f"Largest customer count this machine builds within 24 GB: about {biggest:,.0f} customers, "
                   f"extrapolated linearly from the peak RSS at {n1:,} and {n2:,} customers ({p1:.2f} -> {p2:.2f} GB); "
                   "an estimate, not a measured build. DuckDB's memory_limit (80% of RAM by default) caps the peak "
                   "and the rest spills to disk, so a build larger than this can pass (the disk then bounds it): "
                   "measure one with --quick --customers N.", "", "![scaling](scaling.svg)"]
        _scaling_svg(sizes, walls, peaks, out / "scaling.svg")
    return headline_rc


def _rfm_path(args: argparse.Namespace, home: Path, out: Path, env: dict[str, str], report: list[str]) -> None:
    """Target 2: `dbt build --select +customer_rfm` on transactions + customers only,
    against a plain scan + group-by of the same file and against lifetimes."""
    notes: list[str] = []
    lines = ["| customers | transactions | this project, end to end | customer_rfm node | reference | reference s "
             "| ratio | target | met |",
             "| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |"]
    import duckdb

    for n in args.rfm_customers:
        full = _generate(n, args.seed, out, env, notes)
        if full is None:
            continue
        data = out / f"rfm_{n}_{args.seed}"
        data.mkdir(exist_ok=True)
        for name in ("transactions.parquet", "customers.parquet"):
            link = data / name
            if not link.exists():
                link.symlink_to(full / name)
        with duckdb.connect() as con:
            tx = con.execute(f"select count(*) from read_parquet('{data}/transactions.parquet')").fetchone()[0]
        secs, gb, rc, target = _dbt_build(home, out, f"rfm_{n}", data, env, RFM_SELECT)
        node = float("nan")
        as_of = None
        if (target / "run_results.json").exists():
            node = next((r["execution_time"] for r in json.loads((target / "run_results.json").read_text())["results"]
                         if r["unique_id"].endswith(".customer_rfm")), float("nan"))
        db = out / ".build" / f"rfm_{n}.duckdb"
        if db.exists():
            with duckdb.connect(str(db), read_only=True) as con:
                as_of = con.execute("select max(as_of_date) from customer_rfm").fetchone()[0]
        if rc:
            lines.append(f"| {n:,} | {tx:,} | FAILED (exit {rc}) | | | | | | |")
            continue
        floor, floor_gb, _ = _run([sys.executable, "-m", "segkit.bench", "--scan-floor", str(data)], env,
                                  out / f"scan_floor_{n}.log")
        ratio = secs / floor
        lines.append(f"| {n:,} | {tx:,} | {secs:.1f} s, {gb:.2f} GB | {node:.1f} s | plain DuckDB scan + group-by "
                     f"(count, sum, min, max, distinct days) | {floor:.1f} s, {floor_gb:.2f} GB | {ratio:.2f} | "
                     f"<= {RFM_FLOOR_TARGET_RATIO:.0f} | "
                     f"{'yes' if ratio <= RFM_FLOOR_TARGET_RATIO else 'no'} |")
        if n <= 500_000 and as_of is not None:
            log = out / f"lifetimes_{n}.log"
            lt, lt_gb, lt_rc = _run([sys.executable, "-m", "segkit.bench", "--lifetimes", str(data), str(as_of)], env, log)
            if lt_rc:
                lines.append(f"| {n:,} | {tx:,} | | | lifetimes not available "
                             f"({log.name}: `pip install lifetimes==0.11.3`) | | | | |")
                continue
            model = next((float(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("MODEL_SECONDS")),
                         float("nan"))
            lines.append(f"| {n:,} | {tx:,} | {secs:.1f} s (dbt start-up included) | | lifetimes end to end "
                         f"(pandas read + summary_data_from_transaction_data) | {lt:.1f} s, {lt_gb:.2f} GB | "
                         f"{lt / secs:.2f}x faster | >= {LIFETIMES_END_TO_END_TARGET:.0f}x | "
                         f"{'yes' if lt / secs >= LIFETIMES_END_TO_END_TARGET else 'no'} |")
            lines.append(f"| {n:,} | {tx:,} | | {node:.1f} s | lifetimes summary_data_from_transaction_data alone | "
                         f"{model:.1f} s | {model / node:.2f}x faster | >= {LIFETIMES_MODEL_TARGET:.0f}x | "
                         f"{'yes' if model / node >= LIFETIMES_MODEL_TARGET else 'no'} |")
    report += ["", "## Target 2: the RFM path (`dbt build --select +customer_rfm`, transactions and customers only)", "",
               *notes, "", *lines]


def _refresh_parts(full: Path, out: Path, customers: int, seed: int) -> tuple[Path, Path, str]:
    """The generated data as a periodic refresh receives it (README, "Periodic refresh"):
    customers and subscriptions as single files, transactions and events as folders of
    parts. Part 0 holds every row before the last day of transactions, part 1 that day
    (the next delivery), written aside until the incremental build. Returns (input
    folder, the folder holding the held-back parts, the last day)."""
    import duckdb

    data = out / f"refresh_{customers}_{seed}"
    held = out / f"refresh_{customers}_{seed}_next"
    with duckdb.connect() as con:
        day = str(con.execute(f"select max(transacted_at)::date from read_parquet('{full}/transactions.parquet')")
                  .fetchone()[0])
        if not (held / "events" / f"1_{day}.parquet").exists():
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(held, ignore_errors=True)
            for name in ("customers.parquet", "subscriptions.parquet"):
                (data / name).parent.mkdir(parents=True, exist_ok=True)
                (data / name).symlink_to(full / name)
            for table, column in (("transactions", "transacted_at"), ("events", "event_at")):
                (data / table).mkdir()
                (held / table).mkdir(parents=True)
                src = f"read_parquet('{full}/{table}.parquet')"
                con.execute(f"copy (select * from {src} where {column} < date '{day}') "
                            f"to '{data / table / '0_history.parquet'}' (format parquet)")
                con.execute(f"copy (select * from {src} where {column} >= date '{day}') "
                            f"to '{held / table / f'1_{day}.parquet'}' (format parquet)")
    for table in ("transactions", "events"):  # a rerun starts again from part 0 alone
        delivered = data / table / f"1_{day}.parquet"
        if delivered.exists():
            delivered.rename(held / table / delivered.name)
    return data, held, day


def _refresh(args: argparse.Namespace, home: Path, out: Path, env: dict[str, str], report: list[str]) -> int:
    """Issue 14's speed target: a build that adds one day of data (one new part of
    transactions and of events) against the full build of the same warehouse before
    it, in the same run."""
    import duckdb

    full = _generate(args.customers, args.seed, out, env, report)
    if full is None:
        return 1
    data, held, day = _refresh_parts(full, out, args.customers, args.seed)
    with duckdb.connect() as con:
        counts = {t: con.execute(f"select count(*) from read_parquet('{held / t}/*.parquet')").fetchone()[0]
                  for t in ("transactions", "events")}
    secs_a, gb_a, rc_a, target_a = _dbt_build(home, out, "refresh", data, env, args.select, fresh=True,
                                              log_name="refresh_full")
    lines = ["", f"## Issue 14: a periodic refresh at {args.customers:,} customers", "",
             f"Input as parts (`{data.name}`): transactions and events up to {day} (excluded) in part 0; the "
             f"delivery of {day} ({counts['transactions']:,} transactions, {counts['events']:,} events) as part 1, "
             "added after the first build. Customers and subscriptions are single files.", "",
             "| build | wall s | peak GB | exit | ratio to the full build | target | met |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |",
             f"| full build over part 0 (new warehouse) | {secs_a:.1f} | {gb_a:.2f} | {rc_a} | 1.00 | | |"]
    rc_b = 1
    if rc_a == 0:
        for table in ("transactions", "events"):
            part = held / table / f"1_{day}.parquet"
            part.rename(data / table / part.name)
        secs_b, gb_b, rc_b, target_b = _dbt_build(home, out, "refresh", data, env, args.select, fresh=False,
                                                  log_name="refresh_incremental")
        ratio = secs_b / secs_a
        lines.append(f"| the next build: part 1 added (the same command) | {secs_b:.1f} | {gb_b:.2f} | {rc_b} | "
                     f"{ratio:.2f} | <= {REFRESH_TARGET_RATIO:.2f} | "
                     f"{'yes' if ratio <= REFRESH_TARGET_RATIO and rc_b == 0 else 'no'} |")
        if (target_a / "run_results.json").exists() and (target_b / "run_results.json").exists():
            def node_seconds(target: Path) -> dict[str, float]:
                return {r["unique_id"].split(".")[-1]: r["execution_time"]
                        for r in json.loads((target / "run_results.json").read_text())["results"]}
            a, b = node_seconds(target_a), node_seconds(target_b)
            top = sorted(b, key=lambda n: -b[n])[:12]
            lines += ["", "Slowest nodes of the incremental build (dbt execution seconds; the full build's beside):", "",
                      "| node | incremental s | full s |", "| --- | ---: | ---: |"]
            lines += [f"| {n} | {b[n]:.1f} | {a.get(n, float('nan')):.1f} |" for n in top]
            loads = [n for n in b if n.startswith("base_files__") or n.startswith("raw_files__")]
            lines += ["", "Input nodes (incremental / full s): "
                      + "; ".join(f"{n} {b[n]:.1f} / {a.get(n, float('nan')):.1f}" for n in sorted(loads))]
    else:
        print((out / "refresh_full.log").read_text()[-3000:], file=sys.stderr)
    report += lines
    return rc_a or rc_b


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[3:])
    if argv[:1] == ["--step"]:
        return _step(argv[1], argv[2])
    if argv[:1] == ["--model"]:
        return _model_bench(argv[1], argv[2])
    if argv[:1] == ["--load-alone"]:
        return _load_alone(argv[1], argv[2])
    if argv[:1] == ["--plain-read"]:
        return _plain_typed_read(argv[1])
    if argv[:1] == ["--scan-floor"]:
        return _scan_floor(argv[1])
    if argv[:1] == ["--lifetimes"]:
        return _lifetimes_summary(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--select", default=None, help="dbt --select (default: everything)")
    parser.add_argument("--threads", default=os.environ.get("SEGMENTS_THREADS", "2"))
    parser.add_argument("--scaling", default="100000,300000",
                        help="extra full-build sizes for the scaling table, comma-separated ('' for none)")
    parser.add_argument("--rfm-customers", default="2500000,250000",
                        help="sizes of the RFM-path runs (target 2), comma-separated ('' for none)")
    parser.add_argument("--quick", action="store_true",
                        help="only the full build at --customers (no scaling, no RFM path, no steps)")
    parser.add_argument("--only", choices=("full", "rfm", "models", "refresh"), default=None,
                        help="only the full builds (targets 1 and 3), only the RFM path (target 2), only "
                             "the per-model fit and score table on an already built warehouse (--db), or only "
                             "the periodic refresh (issue 14: a full build over parts, then one day's parts added)")
    parser.add_argument("--db", type=Path, default=None,
                        help="with --only models: the built warehouse (default: <out>/bench.duckdb)")
    args = parser.parse_args(argv)
    sizes = lambda text: [int(x) for x in text.replace("_", "").split(",") if x.strip()]  # noqa: E731
    args.scaling = [] if args.quick else sizes(args.scaling)
    args.rfm_customers = [] if args.quick or args.only == "full" else sizes(args.rfm_customers)

    home = Path(os.environ.get("SEGMENTS_HOME", Path(__file__).resolve().parents[2]))
    out = (args.out or home / "warehouse" / "bench").resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_HOME=str(home), SEGMENTS_THREADS=str(args.threads),
               DBT_USE_COLORS="false")
    scope = (f"RFM path at {', '.join(f'{n:,}' for n in args.rfm_customers)} customers" if args.only == "rfm"
             else f"{args.customers:,} customers")
    report: list[str] = [f"# Benchmark: {scope} (seed {args.seed}), {os.cpu_count()} cores", ""]
    if args.only == "models":
        db = (args.db or out / "bench.duckdb").resolve()
        if not db.exists():
            raise SystemExit(f"no built warehouse at {db}: run the full build first (or give --db)")
        report[0] = f"# Benchmark: per model on {db}, {os.cpu_count()} cores"
        text = "\n".join(report + _models_section(db, out, env))
        (out / "report_models.md").write_text(text + "\n")
        print(text)
        return 0

    if args.only == "refresh":
        report[0] = f"# Benchmark: periodic refresh at {args.customers:,} customers (seed {args.seed}), {os.cpu_count()} cores"
        rc = _refresh(args, home, out, env, report)
        text = "\n".join(report)
        (out / "report_refresh.md").write_text(text + "\n")
        print(text)
        return rc
    rc = 0 if args.only == "rfm" else _full_builds(args, home, out, env, report)
    data = out / f"data_{args.customers}_{args.seed}"
    timed = getattr(args, "_timed", [])
    load = next((t for t, name, _ in timed if name == LOAD_NODE), None)
    if load is not None:
        plain, _, _rc_p = _run([sys.executable, "-m", "segkit.bench", "--plain-read", str(data)], env, out / "plain_read.log")
        # each child's wall time includes starting Python and DuckDB; subtract nothing (conservative)
        alone, _, rc_a = _run([sys.executable, "-m", "segkit.bench", "--load-alone", str(args._load_sql),
                               str(args._build_db)], env, out / "load_alone.log")
        ratio = alone / plain if plain and rc_a == 0 else float("nan")
        report += ["", f"Input layer: {LOAD_NODE} (load + validate transactions), its compiled query run alone "
                   f"{alone:.1f} s{'' if rc_a == 0 else ' (FAILED: see load_alone.log)'} against a plain typed read of "
                   f"the same file (create table as select with the casts) {plain:.1f} s, both alone in the same "
                   f"run: ratio {ratio:.2f} (target <= {LOAD_TARGET_RATIO:.0f}: "
                   f"{'met' if ratio <= LOAD_TARGET_RATIO else 'NOT met'}). In the build the node took {load:.1f} s "
                   f"(ratio {load / plain if plain else float('nan'):.2f}) beside base_files__events, the two loads "
                   "sharing the cores."]
    if args.rfm_customers:
        _rfm_path(args, home, out, env, report)
    if not args.quick and args.only is None:
        rc = _refresh(args, home, out, env, report) or rc
    db = out / "bench.duckdb"  # the published warehouse of the full build
    if db.exists() and rc == 0 and not args.quick and args.only != "rfm":
        report += ["", "Python steps alone on the built warehouse (fit + score, one process each):", ""]
        for step in STEPS:
            secs_s, gb_s, rc_s = _run([sys.executable, "-m", "segkit.bench", "--step", step, str(db)], env,
                                      out / f"step_{step}.log")
            report.append(f"- {step}: {secs_s:.1f} s, peak RSS {gb_s:.2f} GB{'' if rc_s == 0 else f', FAILED (exit {rc_s})'}")
        report += _models_section(db, out, env)
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
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
