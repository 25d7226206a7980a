"""The project's own generic data tests (macros/tests/generic_tests.sql), run through dbt
on hand-made rows: each returns exactly the failing rows written out here.

unique_combination_of_columns has a DuckDB version (a group-by on a hash of the columns
first, the values only for the rows whose hash repeats): its failing rows must be the
portable version's, with NULLs grouped together and -0.0 equal to 0.0 as GROUP BY has them."""
from __future__ import annotations

import json

import pytest

from dbt_harness import run_dbt

ROWS = """(select * from (values
    (1, null, 'x', 0.5::double), (1, null, 'x', 0.5::double),
    (2, 3, 'y', 1.0::double), (2, 3, 'z', 1.0::double),
    (4, 5, 'w', -0.0::double), (4, 5, 'w', 0.0::double), (4, 5, 'w', 0.0::double),
    (null, null, null, null), (6, null, null, null)
) as t(a, b, c, d))"""
# (a, b, c, d, copies): the rows that share every column, NULLs and signed zeros as GROUP BY sees them
EXPECTED = [[1, None, "x", 0.5, 2], [4, 5, "w", 0.0, 3]]


def failing_rows(workdir, macro: str, columns: list[str]) -> list[list]:
    inline = (f"select * from ({{{{ segment_warehouse.{macro}({ROWS!r}, {columns!r}) }}}}) "
              "order by all")
    result = run_dbt(workdir, command="show", extra=["--inline", inline, "--output", "json", "--limit", "100",
                                                     "--quiet"])
    assert result.returncode == 0, result.output[-3000:]
    shown = json.loads(result.output[result.output.index("{"):])["show"]
    return [[row[k] for k in (*columns, "copies")] for row in shown]


@pytest.mark.parametrize("macro", ["duckdb__test_unique_combination_of_columns",
                                   "default__test_unique_combination_of_columns"])
def test_unique_combination_returns_exactly_the_repeated_combinations(tmp_path, macro):
    assert failing_rows(tmp_path, macro, ["a", "b", "c", "d"]) == EXPECTED
    # fewer columns: (2, 3) repeats too, the NULL-only row does not
    assert failing_rows(tmp_path, macro, ["a", "b"]) == [[1, None, 2], [2, 3, 2], [4, 5, 3]]
