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
    result = run_dbt(tmp_path_factory.mktemp("demo_past"), vars={"dataset": "demo", "as_of_date": DEMO_PAST_AS_OF})
    assert result.returncode == 0, result.output[-4000:]
    assert result.db_path == result.published_path, "the full, passing build did not publish"
    return result


# --------------------------------------------------------------------------- #
# Parallel runs (`make test`: pytest -n <workers> --dist loadgroup)
# --------------------------------------------------------------------------- #
# Each test file runs whole on one worker, so a module-scoped build is made once,
# as in a serial run. The files that read the session's shared past-date build
# (demo_past_build, a full dbt build) share one group, so that build is made once too.
# (demo_build / dataset_build copy the `make test-dbt` builds: cheap on any worker.)
# Workers take the groups in collection order: the groups holding a `slow` test (their
# own builds of generated or split data) and the shared past-date build go first, so a
# long one does not start last and run alone at the end.
SHARED_BUILD_GROUPS = ("demo_past_build",)


def pytest_collection_modifyitems(config, items):
    groups: dict[str, str] = {}
    for item in items:
        module = item.module.__name__
        shared = [name for name in SHARED_BUILD_GROUPS if name in item.fixturenames]
        if shared:
            groups[module] = shared[0]
        groups.setdefault(module, module)
    heavy = {groups[item.module.__name__] for item in items
             if item.get_closest_marker("slow") or groups[item.module.__name__] in SHARED_BUILD_GROUPS}
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (groups[item.module.__name__] not in heavy, order[id(item)]))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.module.__name__]))
