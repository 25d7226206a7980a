"""`make demo`'s summary reads as plain, rounded text (issue 12, item 6): no escape
codes, no float printed with more than 4 decimals, and the prediction quality an analyst
quotes (ROC AUC 0.903, not 0.9026162477074118) rounded from prediction_metrics."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[2]
LONG_FLOAT = re.compile(r"\d\.\d{5,}")


def summary_text(db_path: Path) -> str:
    env = dict(os.environ, SEGMENTS_HOME=str(PROJECT_DIR), PYTHONPATH=str(PROJECT_DIR / "python"))
    proc = subprocess.run([sys.executable, "-m", "segkit.summary", "--db", str(db_path)],
                          capture_output=True, text=True, env=env, cwd=PROJECT_DIR, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def check_summary(db_path: Path) -> None:
    text = summary_text(db_path)
    assert "\x1b" not in text, "escape code in the summary"
    assert not LONG_FLOAT.findall(text), f"unrounded floats: {LONG_FLOAT.findall(text)[:5]}"
    with duckdb.connect(str(db_path), read_only=True) as con:
        metrics = con.execute("select model_name, target, roc_auc, base_rate from prediction_metrics").fetchall()
    assert metrics, "the demo has prediction metrics"
    lines = text.splitlines()
    for model_name, target, roc_auc, base_rate in metrics:
        row = [line for line in lines if line.strip().startswith(f"{model_name} / {target} ")]
        assert len(row) == 1, f"no summary line for {model_name} / {target}"
        assert f"ROC AUC {roc_auc:.3f}" in row[0], row[0]
        assert f"base rate {base_rate:.3f}" in row[0], row[0]


def test_summary_is_plain_and_rounded(demo_build):
    check_summary(demo_build.db_path)
