"""Print a short summary of a built warehouse: tables, row counts, segment sizes, model quality.

    python -m segkit.summary [--db warehouse/demo.duckdb]

Plain text (no colour codes); every figure goes through fmt(): counts with thousands
separators, other numbers rounded to FLOAT_DECIMALS decimals (`ROC AUC 0.900`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

# (table, label column) pairs whose sizes the summary shows when the table exists
SEGMENT_TABLES: list[tuple[str, str]] = [
    ("customer_clv", "clv_segment"),
    ("customer_rfm", "rfm_segment"),
    ("customer_clusters", "method || ' ' || value_tier"),
    ("campaign_targets", "campaign"),
]

# decimals of every non-integer figure the summary prints
FLOAT_DECIMALS = 3

# prediction_metrics columns the summary shows, with their labels
METRIC_COLUMNS: list[tuple[str, str]] = [
    ("roc_auc", "ROC AUC"),
    ("precision_top_decile", "precision top decile"),
    ("lift_top_decile", "lift top decile"),
    ("base_rate", "base rate"),
]


def fmt(value: object) -> str:
    """A figure as the summary prints it: integers with thousands separators, other
    numbers (float, Decimal) rounded to FLOAT_DECIMALS decimals, None as `n/a`."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        number = float(value)  # float, Decimal, numpy scalars
    except (TypeError, ValueError):
        return str(value)
    if number != number:  # NaN
        return "n/a"
    return f"{number:,.{FLOAT_DECIMALS}f}"


def default_db_path(dataset: str | None = None) -> Path:
    """The DuckDB file profiles.yml points at: $SEGMENTS_DB or warehouse/<dataset>.duckdb."""
    if os.environ.get("SEGMENTS_DB"):
        return Path(os.environ["SEGMENTS_DB"])
    home = Path(os.environ.get("SEGMENTS_HOME", "."))
    return home / "warehouse" / f"{dataset or project_default_dataset(home)}.duckdb"


def project_default_dataset(home: Path) -> str:
    """vars.dataset from the project's dbt_project.yml."""
    import yaml  # installed with dbt-core

    with open(home / "dbt_project.yml") as fh:
        return str(yaml.safe_load(fh)["vars"]["dataset"])


def summarize(db_path: Path) -> str:
    """Return the summary text for the warehouse at db_path (opened read-only)."""
    if not db_path.exists():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `make demo` (or dbt build) first")
    lines: list[str] = [f"Warehouse: {db_path}"]
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema = 'main' order by table_name"
        ).fetchall()
        lines.append(f"Tables built in schema main: {len(tables)}")
        for schema, name in tables:
            n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            lines.append(f"  {name:<34} {fmt(n):>12} rows")
        names = {name for _, name in tables}
        if "input_reconciliation" in names:
            lines.append("Input reconciliation (rows in = used + rejected):")
            for row in con.execute(
                "select source_table, rows_in, rows_used, rows_rejected, is_reconciled "
                "from input_reconciliation order by source_table"
            ).fetchall():
                lines.append(f"  {row[0]:<34} in {fmt(row[1]):>10}  used {fmt(row[2]):>10}  rejected {fmt(row[3]):>8}  "
                             f"{'ok' if row[4] else 'MISMATCH'}")
        for table, label in SEGMENT_TABLES:
            if table not in names:
                continue
            rows = con.execute(
                f"select {label} as label, count(*) as n from {table} group by 1 order by 2 desc, 1"
            ).fetchall()
            if not rows:
                continue
            lines.append(f"Segment sizes in {table}:")
            for lab, n in rows:
                lines.append(f"  {fmt(lab):<34} {fmt(n):>12}")
        if "prediction_metrics" in names:
            rows = con.execute(
                "select model_name, target, " + ", ".join(c for c, _ in METRIC_COLUMNS)
                + " from prediction_metrics order by model_name, target"
            ).fetchall()
            if rows:
                lines.append("Prediction quality (prediction_metrics, held-out scores):")
            for model_name, target, *values in rows:
                figures = ", ".join(f"{label} {fmt(v)}" for (_, label), v in zip(METRIC_COLUMNS, values, strict=True))
                lines.append(f"  {model_name + ' / ' + target:<34} {figures}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None, help="DuckDB file (default: $SEGMENTS_DB or warehouse/<dataset>.duckdb)")
    parser.add_argument("--dataset", default=None, help="dataset name, used for the default path")
    args = parser.parse_args(argv)
    try:
        print(summarize(args.db or default_db_path(args.dataset)))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
