import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dbt_harness import run_dbt


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """One full `dbt build` of the default dataset (demo), published, shared by the
    tests that only read it (test_demo_build, test_report, test_semantic_layer).
    Read it, never write to it: a test that needs its own settings builds its own."""
    result = run_dbt(tmp_path_factory.mktemp("demo"))  # no vars: the project default is demo
    assert result.returncode == 0, result.output[-4000:]
    return result
