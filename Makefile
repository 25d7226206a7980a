# Two commands for a newcomer: `make demo` (build the default dataset and print a
# summary) and `make test` (dbt build + tests on the bundled datasets, then pytest).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATASET ?=

export DO_NOT_TRACK := 1
# dbt's colours only on a terminal: a log written to a file or a CI log stays
# plain text (make's stderr is what the user sees; DBT_USE_COLORS given wins)
ifeq ($(shell [ -t 2 ] && echo tty),)
export DBT_USE_COLORS ?= false
endif
export SEGMENTS_HOME := $(CURDIR)

DBT := $(BIN)/dbt
DBT_FLAGS := --profiles-dir $(CURDIR) --project-dir $(CURDIR)
# The bundled datasets (every registered dataset with its data in the project), read
# from the one registry, dataset_registry() in macros/contract.sql.
LIST_DATASETS = $(DBT) --quiet run-operation list_datasets --args '{names: true}' $(DBT_FLAGS) --target-path target/datasets
ifneq ($(strip $(DATASET)),)
DBT_VARS := --vars '{dataset: $(DATASET)}'
endif

.PHONY: install demo report build datasets test test-dbt test-python bench lint backfill clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## make demo [DATASET=nexa_sat]: build a dataset (default: the project default) and print a summary.
## dbt builds warehouse/.build/<dataset>.duckdb and, once every model and test passed, publishes
## it as warehouse/<dataset>.duckdb (the file BI tools open; see README "Connecting a BI tool")
demo: install
	@mkdir -p warehouse
	$(DBT) build $(DBT_FLAGS) $(DBT_VARS)
	$(BIN)/python -m segkit.summary $(if $(strip $(DATASET)),--dataset $(DATASET))
	$(BIN)/python -m segkit.report $(if $(strip $(DATASET)),--dataset $(DATASET))

## make report [DATASET=nexa_sat]: write the offline HTML report of the published warehouse,
## warehouse/<dataset>_report.html (one file, no network needed to open it)
report: install
	$(BIN)/python -m segkit.report $(if $(strip $(DATASET)),--dataset $(DATASET))

build: demo

## make backfill [DATASET=demo] [MONTHS=12]: segment history for the last MONTHS month ends,
## then the normal build (publishes); see README "Segment history"
MONTHS ?= 12
backfill: install
	@mkdir -p warehouse
	$(BIN)/python -m segkit.backfill --dataset $(or $(strip $(DATASET)),demo) --months $(MONTHS)

## make lint: ruff, then SQLFluff (dbt templater, .sqlfluff) on a copy of the demo warehouse
## (the templater opens the database and some models read their inputs' columns while
## compiling). Installs the `lint` extra (sqlfluff-templater-dbt pins click < 8.5).
lint: install
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff check python tests models
	@test -f warehouse/demo.duckdb || $(MAKE) demo
	@mkdir -p target/lint && cp warehouse/demo.duckdb target/lint/demo.duckdb
	SEGMENTS_DB=$(CURDIR)/warehouse/demo.duckdb SEGMENTS_BUILD_DB=$(CURDIR)/target/lint/demo.duckdb $(BIN)/sqlfluff lint models

## make datasets: the bundled datasets `make test` builds, from the registry
datasets: install
	@$(LIST_DATASETS)

## make test: dbt build (models + data tests + unit tests) of every bundled dataset into
## throwaway databases, then pytest (study reproductions, quarantine, Python package)
test: install test-dbt test-python

test-dbt: install
	@mkdir -p warehouse/test
	@datasets="$$($(LIST_DATASETS))" && test -n "$$datasets" || { echo "could not read the dataset registry"; exit 1; }; \
	for ds in $$datasets; do \
	  echo "== dbt build, dataset $$ds =="; \
	  rm -f warehouse/test/$$ds.duckdb warehouse/test/.build/$$ds.duckdb; \
	  SEGMENTS_DB=warehouse/test/$$ds.duckdb $(DBT) build $(DBT_FLAGS) --vars "{dataset: $$ds}" --target-path target/test_$$ds || exit 1; \
	done

test-python: install
	$(BIN)/ruff check python tests models
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m segkit.bench $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse
