# The README documents these targets. `make run` serves; `make test` tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The commands take these as options, which override their settings: so they default to the
# same REPORT_* environment variables (a .env file is read by the commands, not by make).
INDEX_DIR ?= $(or $(REPORT_INDEX_DIR),index)
CORPUS_DIR ?= $(or $(REPORT_CORPUS_DIR),corpus)
EVAL_FILES ?= ../shared/eval/dev.jsonl tests/data/queries_extra.jsonl tests/data/queries_blind.jsonl tests/data/queries_final.jsonl tests/data/queries_fresh.jsonl tests/data/queries_holdout.jsonl tests/data/queries_sealed.jsonl tests/data/queries_sealed2.jsonl
HOST ?= $(or $(REPORT_HOST),127.0.0.1)
PORT ?= $(or $(REPORT_PORT),8000)
# What the service needs, and beside it what tests and linters need (Ray, Selenium…):
# `make run` installs only the first.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev index run test lint format eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change. torch is installed first and
# pinned: an unpinned resolution would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

index: install
	$(BIN)/report-index provision
	$(BIN)/report-index build --corpus "$(CORPUS_DIR)" --out "$(INDEX_DIR)"

run: index
	$(BIN)/report-search serve --index "$(INDEX_DIR)" --host $(HOST) --port $(PORT)

# pytest exits 5 when it collected no test: that must fail loudly, not pass.
test: install-dev
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: no tests were collected" >&2; exit 1; fi; \
	exit $$status

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# One table per query set (EVALUATION.md explains each); a missing file fails loudly.
eval: index
	@for file in $(EVAL_FILES); do \
		echo "## $$file"; \
		$(BIN)/report-search eval $$file --index "$(INDEX_DIR)" || exit 1; \
	done

# Benchmarks are never part of `make test`; they write bench/results/ and BENCHMARKS.md.
bench: index
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.build_index --corpus "$(CORPUS_DIR)"
	$(BIN)/python -m bench.inprocess --index "$(INDEX_DIR)"
	$(BIN)/python -m bench.http_load --index "$(INDEX_DIR)"
	$(BIN)/python -m bench.cpu_budget --index "$(INDEX_DIR)"
	$(BIN)/python -m bench.txtai_peer --index "$(INDEX_DIR)"
	$(BIN)/python -m bench.load_soak --index "$(INDEX_DIR)"
	$(BIN)/python -m bench.ann_scale --out bench/results
	$(BIN)/python -m bench.corpus_scale --index "$(INDEX_DIR)"
	$(BIN)/python bench/encoder_speed.py --rounds 10 > bench/results/encoder_speed.md
	cat bench/results/encoder_speed.md
	$(BIN)/python -m bench.report

clean:
	rm -rf "$(INDEX_DIR)" .pytest_cache .mypy_cache .ruff_cache
