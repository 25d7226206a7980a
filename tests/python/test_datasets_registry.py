"""One list of datasets (issue 9 section 4): dataset_registry() in macros/contract.sql.

Everything that needs the datasets reads it: which staging folder (and seeds) a
build enables, the validation of var('dataset'), and `make test`'s loop. These
tests read the registry through dbt (`dbt run-operation list_datasets`) and
compare it with what is on disk and with what the Makefile runs, so a dataset
added in one place only, or a list kept a second time, fails here."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from dbt_harness import PROJECT_DIR, run_dbt

STAGING = PROJECT_DIR / "models" / "staging"
SEEDS = PROJECT_DIR / "seeds"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    result = run_dbt(tmp_path_factory.mktemp("registry"), command="run-operation", extra=["list_datasets"])
    assert result.returncode == 0, result.output[-3000:]
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.output[-3000:]
    return json.loads(lines[0])


def test_every_registered_dataset_has_its_staging_folder_and_every_folder_is_registered(registry):
    folders = {p.name for p in STAGING.iterdir() if p.is_dir()}
    adapters = {entry["adapter"] for entry in registry.values()}
    assert folders - adapters == set(), "staging folders no dataset_registry() entry uses"
    assert adapters - folders == set(), "registered datasets without models/staging/<adapter>/"
    for adapter in adapters:
        folder = STAGING / adapter
        assert list(folder.glob("*.sql")), f"{folder} has no model"
        assert list(folder.glob("_*.yml")), f"{folder} has no _*.yml describing its models"
    # a seed folder belongs to a registered dataset too
    seed_folders = {p.name for p in SEEDS.iterdir() if p.is_dir()}
    assert seed_folders <= adapters, seed_folders - adapters


def test_dataset_settings_only_name_registered_datasets(registry):
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert set(project["vars"]["dataset_settings"]) <= set(registry)
    assert project["vars"]["dataset"] in registry


def _enabled_nodes(workdir, dataset):
    result = run_dbt(workdir, command="ls", vars={"dataset": dataset},
                     extra=["--resource-type", "model", "--resource-type", "seed",
                            "--output", "json", "--output-keys", "resource_type original_file_path"])
    assert result.returncode == 0, result.output[-3000:]
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("dataset", ["demo", "lita"])
def test_a_build_enables_exactly_the_staging_folder_and_seeds_of_its_dataset(registry, dataset, tmp_path):
    """Every staging model is enabled by its folder alone (config(enabled=
    dataset_adapter_enabled())): a model of another folder that lacked it would be
    enabled here; one of the dataset's folder that lacked the adapter would not."""
    adapter = registry[dataset]["adapter"]
    nodes = _enabled_nodes(tmp_path, dataset)
    staging = {n["original_file_path"] for n in nodes
               if n["resource_type"] == "model" and n["original_file_path"].startswith("models/staging/")}
    on_disk = {str(p.relative_to(PROJECT_DIR)) for p in (STAGING / adapter).glob("*.sql")}
    assert staging == on_disk
    seeds = {n["original_file_path"] for n in nodes if n["resource_type"] == "seed"}
    own_seeds = ({str(p.relative_to(PROJECT_DIR)) for p in (SEEDS / adapter).glob("*.csv")}
                 if (SEEDS / adapter).is_dir() else set())
    shared_seeds = {str(p.relative_to(PROJECT_DIR)) for p in SEEDS.glob("*.csv")}
    assert seeds == own_seeds | shared_seeds


def test_make_test_builds_exactly_the_bundled_datasets_of_the_registry(registry):
    bundled = {name for name, entry in registry.items() if entry["bundled"]}
    # `-o .venv/.installed`: never reinstall the environment from a test
    listed = subprocess.run(["make", "-s", "-o", ".venv/.installed", "datasets"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == sorted(bundled)
    assert "files" not in listed        # no data in the project: it needs input_dir
    # the loop of test-dbt iterates over that list, and no file keeps a copy of it
    recipe = subprocess.run(["make", "-n", "-o", ".venv/.installed", "test-dbt"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=True).stdout
    assert "run-operation list_datasets" in recipe and "for ds in $datasets" in recipe
    # (a line naming two datasets or more is a list; `make demo` and a comment's
    # example DATASET=nexa_sat are not)
    for path in [PROJECT_DIR / "Makefile", PROJECT_DIR / ".ci" / "run"]:
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            named = [name for name in registry if re.search(rf"\b{re.escape(name)}\b", line)]
            assert len(named) < 2, f"{path.name} lists datasets {named}: read them from the registry ({line!r})"


def test_an_unregistered_dataset_stops_the_build_naming_the_registered_ones(registry, tmp_path):
    result = run_dbt(tmp_path, vars={"dataset": "litta"})
    assert result.returncode != 0
    assert ("Invalid setting var('dataset'): 'litta' is not a registered dataset "
            "(dataset_registry() in macros/contract.sql): did you mean 'lita'? "
            f"The registered datasets are {', '.join(sorted(registry))}.") in result.output, result.output[-3000:]
    assert "Adding a dataset" in result.output
    # nothing ran: no build database was written
    assert not result.build_path.exists()
