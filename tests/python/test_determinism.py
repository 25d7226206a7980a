"""Same input, same bytes (issue 9 section 3 item 9): two builds of the demo dataset
give rfm_segment_summary and demographic_segment_profile identical to the last bit
of every float (no float summed in an order that depends on the threads).

Two builds into two folders (the session's default build and a partial one of its
own); every row (ordered by the key) and every column is compared exactly:
floats by their IEEE-754 bits, decimals as decimals.
A float sum depends on the order its terms are added in, which parallel
aggregation does not fix; a third build reads the same demo rows from files
whose lines are shuffled (a fixed order that differs from the bundled one), so an
order-dependent float aggregate shows up every time, not only when the threads
happen to interleave differently."""
from __future__ import annotations

import random
import struct

import pytest

from dbt_harness import PROJECT_DIR, run_dbt

DEMO = PROJECT_DIR / "data" / "demo"

MARTS = {
    "rfm_segment_summary": ["rfm_segment"],
    "demographic_segment_profile": ["dimension_name", "dimension_value"],
}
SELECT = ["--select", *("+" + mart for mart in MARTS), "--indirect-selection", "cautious"]


def _exact(value):
    """A float by its bits (so 0.1 + 0.2 and 0.3 differ, and -0.0 and 0.0), the rest as is."""
    return ("float", struct.pack(">d", value).hex()) if isinstance(value, float) else value


def _build(workdir, vars: dict):
    result = run_dbt(workdir, vars=vars, extra=SELECT)
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def builds(demo_build, tmp_path_factory):
    """The session's default build of demo (conftest.py) and a partial build of the
    marts of its own: two separate dbt runs of the same input."""
    second = _build(tmp_path_factory.mktemp("determinism_second"), {"dataset": "demo"})
    assert second.db_path != demo_build.db_path
    return [demo_build, second]


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory):
    """The demo files with their data lines in a shuffled (seeded) order."""
    root = tmp_path_factory.mktemp("determinism_shuffled")
    data = root / "demo_shuffled"
    data.mkdir()
    for path in sorted(DEMO.glob("*.csv")):
        header, *lines = path.read_text().splitlines()
        random.Random(path.name).shuffle(lines)
        (data / path.name).write_text("\n".join([header, *lines]) + "\n")
    return _build(root / "build", {"dataset": "files", "input_dir": str(data)})


def _assert_identical(a, b, mart):
    keys = ", ".join(MARTS[mart])
    first, second = ([tuple(_exact(v) for v in row) for row in build.query(f"select * from {mart} order by {keys}")]
                     for build in (a, b))
    columns = [c[0] for c in a.query(f"describe {mart}")]
    assert columns == [c[0] for c in b.query(f"describe {mart}")]
    assert len(first) == len(second) > 1
    assert [row[:len(MARTS[mart])] for row in first] == [row[:len(MARTS[mart])] for row in second]
    differing = [(row_a[:len(MARTS[mart])], column, a, b)
                 for row_a, row_b in zip(first, second)
                 for column, a, b in zip(columns, row_a, row_b) if a != b]
    assert not differing, f"{len(differing)} values differ between two builds, e.g. {differing[:5]}"


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_two_builds_are_identical(builds, mart):
    _assert_identical(*builds, mart)


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_row_order_of_the_input_does_not_change_a_bit(builds, shuffled, mart):
    _assert_identical(builds[0], shuffled, mart)
