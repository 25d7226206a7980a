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
# pip without its version check and progress bars (a warm run installs nothing)
PIP := $(BIN)/python -m pip --disable-pip-version-check
PIP_QUIET := --quiet --progress-bar off

DBT := $(BIN)/dbt
DBT_FLAGS := --profiles-dir $(CURDIR) --project-dir $(CURDIR)
# dbt's colours decided where the output goes: the recipe's stdout a terminal or not
# (checked when the recipe runs; DBT_USE_COLORS given wins)
DBT_COLOR = $$(if [ -n "$$DBT_USE_COLORS" ]; then :; elif [ -t 1 ]; then echo --use-colors; else echo --no-use-colors; fi)
# `make demo` shows each model's and test's result line, not its START line (the full
# log is logs/dbt.log); pipefail keeps dbt's exit status
DBT_PROGRESS := grep --line-buffered -v -E '^[0-9:]+ +[0-9]+ of [0-9]+ START '
# The bundled datasets (every registered dataset with its data in the project), read
# from the one registry, dataset_registry() in macros/contract.sql.
LIST_DATASETS = $(DBT) --quiet run-operation list_datasets --args '{names: true}' $(DBT_FLAGS) --target-path target/datasets
ifneq ($(strip $(DATASET)),)
DBT_VARS := --vars '{dataset: $(DATASET)}'
endif

.PHONY: install demo report build datasets test test-dbt test-python bench lint lint-sql lint-fix backfill clean

## make install: the virtual environment, once per change of pyproject.toml (a stamp file);
## a warm run prints nothing
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "== installing the project into $(VENV) (once; again when pyproject.toml changes) =="
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install $(PIP_QUIET) --upgrade pip
	@$(PIP) install $(PIP_QUIET) -e '.[test]'
	@touch $@

# the `lint` extra (SQLFluff + dbt templater, click < 8.5), installed by the first
# `make lint` / `make lint-sql` / `make lint-fix`, not by `make install`
$(VENV)/.installed-lint: $(VENV)/.installed
	@echo "== installing the lint extra into $(VENV) (once) =="
	@$(PIP) install $(PIP_QUIET) -e '.[lint]'
	@touch $@

## make demo [DATASET=nexa_sat]: build a dataset (default: the project default) and print a summary.
## dbt builds warehouse/.build/<dataset>.duckdb and, once every model and test passed, publishes
## it as warehouse/<dataset>.duckdb (the file BI tools open; see README "Connecting a BI tool")
demo: install
	@mkdir -p warehouse
	@echo "== [1/3] dbt build, $(if $(strip $(DATASET)),dataset $(DATASET),the default dataset): models, seeds and tests (full log: logs/dbt.log) =="
	@set -o pipefail; $(DBT) build $(DBT_COLOR) $(DBT_FLAGS) $(DBT_VARS) | $(DBT_PROGRESS)
	@echo "== [2/3] summary =="
	@$(BIN)/python -m segkit.summary $(if $(strip $(DATASET)),--dataset $(DATASET))
	@echo "== [3/3] report =="
	@$(BIN)/python -m segkit.report $(if $(strip $(DATASET)),--dataset $(DATASET))

## make report [DATASET=nexa_sat]: write the offline HTML report of the published warehouse,
## warehouse/<dataset>_report.html (one file, no network needed to open it)
report: install
	@$(BIN)/python -m segkit.report $(if $(strip $(DATASET)),--dataset $(DATASET))

build: demo

## make backfill [DATASET=demo] [MONTHS=12]: segment history for the last MONTHS month ends,
## then the normal build (publishes); see README "Segment history"
MONTHS ?= 12
backfill: install
	@mkdir -p warehouse
	$(BIN)/python -m segkit.backfill --dataset $(or $(strip $(DATASET)),demo) --months $(MONTHS)

## make lint: ruff, then SQLFluff on the demo warehouse (built first when missing)
lint: install
	$(BIN)/ruff check python tests models
	@test -f warehouse/demo.duckdb || $(MAKE) demo
	@$(MAKE) --no-print-directory lint-sql LINT_DB=warehouse/demo.duckdb

## make lint-sql [LINT_DB=warehouse/test/demo.duckdb]: SQLFluff (dbt templater, .sqlfluff) on the
## models; fails on any violation. The templater compiles the project against a built demo
## warehouse (some models read their inputs' columns while compiling): a copy of LINT_DB
## (default warehouse/demo.duckdb) under target/lint, so LINT_DB is only read.
## Models of the other datasets are disabled in a demo compile and skipped.
LINT_DB ?= warehouse/demo.duckdb
SQLFLUFF_ENV = SEGMENTS_DB=$(CURDIR)/target/lint/demo.duckdb SEGMENTS_BUILD_DB=$(CURDIR)/target/lint/.build/demo.duckdb
SQLFLUFF_COLOR = $$([ -t 1 ] || echo --nocolor)
lint-sql: $(VENV)/.installed-lint
	@test -f $(LINT_DB) || { echo "lint-sql: no built demo warehouse at $(LINT_DB): make demo, or LINT_DB=<built demo .duckdb>"; exit 1; }
	@mkdir -p target/lint/.build && cp $(LINT_DB) target/lint/.build/demo.duckdb
	$(SQLFLUFF_ENV) $(BIN)/sqlfluff lint models $(SQLFLUFF_COLOR)

## make lint-fix [LINT_DB=...]: re-apply the layout rules (indentation LT02, one select target
## per line LT09, clause keywords on a new line LT14, `inner join` AM05, no self-alias AL09;
## none changes a result), then lint-sql. Review the diff; commit it alone.
LINT_FIX_RULES := LT02,LT09,LT14,AM05,AL09
lint-fix: $(VENV)/.installed-lint
	@test -f $(LINT_DB) || { echo "lint-fix: no built demo warehouse at $(LINT_DB): make demo, or LINT_DB=<built demo .duckdb>"; exit 1; }
	@mkdir -p target/lint/.build && cp $(LINT_DB) target/lint/.build/demo.duckdb
	-$(SQLFLUFF_ENV) $(BIN)/sqlfluff fix models --rules $(LINT_FIX_RULES) $(SQLFLUFF_COLOR)
	@$(MAKE) --no-print-directory lint-sql LINT_DB=$(LINT_DB)

## make datasets: the bundled datasets `make test` builds, from the registry
datasets: install
	@$(LIST_DATASETS)

## make test: dbt build (models + data tests + unit tests) of every bundled dataset into
## throwaway databases, then pytest (study reproductions, quarantine, Python package).
## TEST_JOBS (default: the machine's cores, at most 4) dataset builds and pytest workers
## run at once: a dbt build of a bundled dataset keeps about one core busy (dbt's own
## Python), so two on two cores take about half the time; each takes up to about 1 GB.
## TEST_JOBS=1: one at a time, as before.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))
test: install test-dbt test-python

test-dbt: install
	@mkdir -p warehouse/test/logs
	@datasets="$$($(LIST_DATASETS))" && test -n "$$datasets" || { echo "could not read the dataset registry"; exit 1; }; \
	echo "== dbt build of every bundled dataset, $(TEST_JOBS) at a time: $$(echo $$datasets) =="; \
	SECONDS=0; \
	for ds in $$datasets; do \
	  while [ "$$(jobs -rp | wc -l)" -ge $(TEST_JOBS) ]; do wait -n || true; done; \
	  echo "== dbt build, dataset $$ds started (output: warehouse/test/logs/$$ds.out) =="; \
	  rm -rf warehouse/test/$$ds.duckdb warehouse/test/.build/$$ds.duckdb{,.wal} warehouse/test/.build/$$ds.load_cache.duckdb{,.wal} warehouse/test/target/$$ds warehouse/test/logs/$$ds.{out,rc}; \
	  start=$$SECONDS; \
	  ( SEGMENTS_DB=warehouse/test/$$ds.duckdb $(DBT) build $(DBT_FLAGS) --vars "{dataset: $$ds}" \
	      --target-path warehouse/test/target/$$ds --log-path warehouse/test/logs/$$ds \
	      > warehouse/test/logs/$$ds.out 2>&1; echo $$? > warehouse/test/logs/$$ds.rc; \
	    echo "== dbt build, dataset $$ds finished: exit $$(cat warehouse/test/logs/$$ds.rc) in $$((SECONDS - start)) s ==" ) & \
	done; \
	wait; echo "== every dataset built in $$SECONDS s; their output follows =="; failed=; \
	for ds in $$datasets; do \
	  echo "== dbt build, dataset $$ds =="; cat warehouse/test/logs/$$ds.out; \
	  test "$$(cat warehouse/test/logs/$$ds.rc 2>/dev/null)" = 0 || failed="$$failed $$ds"; \
	done; \
	if [ -n "$$failed" ]; then echo "== dbt build failed for:$$failed (output above; dbt logs in warehouse/test/logs/<dataset>/) =="; exit 1; fi
	@echo "== SQLFluff on the models (the demo build just made) =="
	@$(MAKE) --no-print-directory lint-sql LINT_DB=warehouse/test/demo.duckdb

## the tests that only read a default-settings build reuse the one test-dbt made
## (conftest.py fixture dataset_build; a missing, partial or stale one is rebuilt by pytest)
test-python: install
	$(BIN)/ruff check python tests models
	SEGMENTS_TEST_BUILDS=$(CURDIR)/warehouse/test $(BIN)/python -m pytest -n $(if $(filter 1,$(TEST_JOBS)),0,$(TEST_JOBS))

bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m segkit.bench $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse
