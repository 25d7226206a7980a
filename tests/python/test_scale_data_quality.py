"""data_quality_report at scale (issue 11): the key column is profiled from one
group-by on the key (its null, distinct and duplicate-row counts) instead of a
distinct count plus a second scan, with the same figures; and the profile depends
on the raw_files__<input> tables it reads a folder of parts from, so dbt runs it
after they are brought up to date.

Expected figures are recomputed here with pandas from the CSV files as written,
by the report's stated rules: a value is missing when it is empty (read as null)
or only blanks; distinct values are the distinct non-null raw values; duplicate
keys are the rows whose non-blank key is held by more than one row."""

from __future__ import annotations

import json

import pandas as pd

from dbt_harness import partial_build

CUSTOMERS = """customer_id,signed_up_at,country
C1,2024-01-05 10:00:00,India
C2,2024-01-06 10:00:00,
C3,2024-01-07 10:00:00,"  "
C3,2024-01-08 10:00:00,Canada
  ,2024-01-09 10:00:00,Canada
,2024-01-09 10:00:00,Canada
C4,,India
"""

# a folder of two parts: read through raw_files__transactions
PART_1 = """transaction_id,customer_id,transacted_at,amount
T1,C1,2024-02-01 10:00:00,10.00
T2,C1,2024-02-02 10:00:00,12.50
T2,C2,2024-02-03 10:00:00,5.00
 ,C2,2024-02-03 11:00:00,5.00
"""
PART_2 = """transaction_id,customer_id,transacted_at,amount
 ,C3,2024-02-04 10:00:00,7.00
,C3,2024-02-05 10:00:00,7.00
T3,C4,2024-02-06 10:00:00,-3.00
T3,C4,2024-02-06 10:00:00,-3.00
T3,C1,2024-02-07 10:00:00,1.00
T4,,2024-02-08 10:00:00,2.00
"""


def _expected(frames: dict[str, pd.DataFrame], keys: dict[str, str]) -> set[tuple]:
    out = set()
    for table, df in frames.items():
        for position, column in enumerate(df.columns, start=1):
            values = df[column]
            is_null = values.isna()
            missing = is_null | (values.fillna("").str.strip() == "")
            is_key = keys[table] == column
            duplicates = None
            if is_key:
                usable = values[~missing]
                counts = usable.map(usable.value_counts())
                duplicates = int((counts > 1).sum())
            out.add((table, column, position, is_key, len(df), int(missing.sum()),
                     int(values[~is_null].nunique()), duplicates))
    return out


def test_profile_figures_and_dependency_on_loaded_parts(tmp_path):
    data = tmp_path / "input"
    (data / "transactions").mkdir(parents=True)
    (data / "customers.csv").write_text(CUSTOMERS)
    (data / "transactions" / "part_1.csv").write_text(PART_1)
    (data / "transactions" / "part_2.csv").write_text(PART_2)
    result = partial_build(tmp_path / "build", "+data_quality_report",
                           vars={"input_dir": str(data)}, dataset="files")

    # the profile waits for the raw_files__<input> tables a folder of parts is read from
    manifest = json.loads((tmp_path / "build" / "target" / "manifest.json").read_text())
    parents = set(manifest["nodes"]["model.segment_warehouse.data_quality_report"]["depends_on"]["nodes"])
    for entity in ("customers", "transactions", "events", "subscriptions"):
        assert f"model.segment_warehouse.raw_files__{entity}" in parents

    # the CSV reader's view of the files: every field text, an empty field null
    read = dict(dtype=str, keep_default_na=False, na_values=[""])
    parts = [pd.read_csv(pd.io.common.StringIO(p), **read) for p in (PART_1, PART_2)]
    frames = {"customers": pd.read_csv(pd.io.common.StringIO(CUSTOMERS), **read),
              "transactions": pd.concat(parts, ignore_index=True)}
    expected = _expected(frames, {"customers": "customer_id", "transactions": "transaction_id"})
    got = set(result.query(
        "select source_table, column_name, column_position, is_key, rows, null_values, "
        "distinct_values, cast(duplicate_keys as bigint) from data_quality_report"))
    assert got == expected
    # the figures the key rule gives by hand, as a check on the recomputation above
    assert ("transactions", "transaction_id", 1, True, 10, 3, 5, 5) in got
    assert ("customers", "customer_id", 1, True, 7, 2, 5, 2) in got
