import functools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dbt_harness import dataset_default_build, run_dbt

# the past as-of date of the shared past build of demo (fixture demo_past_build)
DEMO_PAST_AS_OF = "2024-06-30"


@pytest.fixture(scope="session")
def dataset_build(tmp_path_factory):
    """dataset_build("cdnow"): the one full, published `dbt build` of a dataset with
    default settings for the whole session, shared by every test that only reads it.
    It is the `make test-dbt` build when $SEGMENTS_TEST_BUILDS (set by the Makefile)
    holds a complete one of this checkout, else built once here on first use
    (dbt_harness.dataset_default_build). Read it, never write to it: a test that needs
    its own settings builds its own (a partial build when it needs only some models)."""
    builds = {}

    def get(dataset: str):
        if dataset not in builds:
            builds[dataset] = dataset_default_build(dataset, tmp_path_factory.mktemp(f"default_{dataset}"))
        result = builds[dataset]
        assert result.returncode == 0, result.output[-4000:]
        return result

    return get


@pytest.fixture(scope="session")
def demo_build(dataset_build):
    """The default dataset's shared build (test_demo_build, test_report, test_semantic_layer, ...)."""
    return dataset_build("demo")


@pytest.fixture(scope="session")
def demo_past_build(tmp_path_factory):
    """The one full `dbt build` of demo with only as_of_date set to DEMO_PAST_AS_OF
    (vars {dataset: demo, as_of_date: 2024-06-30}, published), shared by the tests that
    read the warehouse at that date: test_settings (every node and unit test passes with
    a past as_of_date on the command line), test_billing and test_definitions (the
    figures at the past date; their models are all in it). Read it, never write to it."""
    result = run_dbt(tmp_path_factory.mktemp("demo_past"), vars={"dataset": "demo", "as_of_date": DEMO_PAST_AS_OF},
                     unit_tests=True)
    assert result.returncode == 0, result.output[-4000:]
    assert result.db_path == result.published_path, "the full, passing build did not publish"
    return result


# --------------------------------------------------------------------------- #
# Parallel runs (`make test`: pytest -n <workers>, pytest-xdist)
# --------------------------------------------------------------------------- #
# Each test file runs whole on one worker, so a module-scoped build is made once,
# as in a serial run; the files that read the session's shared past-date build
# (demo_past_build, a full dbt build) run on one worker together, so that build is
# made once too (demo_build / dataset_build copy the `make test-dbt` builds: cheap on
# any worker). Workers take the files in collection order, and the files holding a
# `slow` test (their own builds of generated or split data) and that shared build
# come first, so a long one does not start last and run alone at the end.
# (A scheduler of our own: xdist 3.8's `--dist loadgroup` marks a group by editing
# Item._nodeid, which pytest 9 no longer reads, so its groups are silently lost.)
SHARED_BUILD_FIXTURES = ("demo_past_build",)
HERE = Path(__file__).parent


@functools.cache
def _shared_build_group(path: str) -> str:
    """A test file's scheduling group: the shared build it reads (named in its text: the
    scheduler runs in the controller, which collects nothing), else the file. Read once a file."""
    source = HERE / Path(path).name
    text = source.read_text() if source.is_file() else ""
    return next((name for name in SHARED_BUILD_FIXTURES if name in text), path)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):
        """xdist's loadscope, scoped by test file (merged by shared build), in
        collection order (no reordering by size)."""

        def _split_scope(self, nodeid: str) -> str:
            return _shared_build_group(nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False
    return FileGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    group = {item: _shared_build_group(item.path.name) for item in items}
    heavy = {group[item] for item in items if item.get_closest_marker("slow") or group[item] in SHARED_BUILD_FIXTURES}
    order = {item: i for i, item in enumerate(items)}
    items.sort(key=lambda item: (group[item] not in heavy, order[item]))
