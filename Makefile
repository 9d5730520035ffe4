# One-command setup: every target bootstraps .venv on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick test-tikz docs bench bench-all bench-peer fuzz clean parser-tables lint format goldens

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (diagalg needs Python >= 3.11; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diagalg check examples/

# The whole suite on every core (pytest-xdist): CI runs this.
test: $(STAMP)
	$(BIN)/python -m pytest tests -n auto

# The static checks: mypy on the whole package (configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/python -m ruff check diagalg tests scripts bench docs
	$(BIN)/python -m ruff format --check diagalg tests scripts bench docs
	$(BIN)/python -m mypy

# ruff's automatic fixes and formatting, in place (then `make lint`)
format: $(STAMP)
	$(BIN)/python -m ruff check --fix diagalg tests scripts bench docs
	$(BIN)/python -m ruff format diagalg tests scripts bench docs

# The edit loop: the suite without its slow end-to-end tests (every example, the docs,
# the tutorial, the wheel), in parallel. `make test` before you commit.
test-quick: $(STAMP)
	$(BIN)/python -m pytest tests -n auto -m "not slow"

# The parser's LALR tables (grammar/diag.tables.json) rebuilt from grammar/diag.lark:
# run after editing the grammar (tests/test_parser_tables.py fails until you do).
parser-tables: $(STAMP)
	$(BIN)/python scripts/build_parser_tables.py

# TikZ output compiled by LaTeX (`make test` only checks its structure). Installs
# Debian's texlive packages when pdflatex is missing and apt-get is usable.
test-tikz: $(STAMP)
	$(BIN)/python scripts/test_tikz.py

# docs/tutorial.md and docs/pictures/ from examples/ (tests/test_tutorial.py keeps them true)
docs: $(STAMP)
	$(BIN)/python scripts/make_docs.py

# `make bench`: one table, diagalg against its peers measured in the same run (written
# to bench/RESULTS.md too). The peers live in their own venv, never in diagalg's: tensorgrad
# pulls torch and pins networkx 3.2.1. If the bench venv cannot be built, the table says so
# and the tensorgrad rows read "not installed".
bench: $(STAMP)
	-@$(MAKE) --no-print-directory $(BENCH_VENV)/.installed
	$(BIN)/python bench/run.py --write bench/RESULTS.md

# Every benchmark in bench/ (the table, then the detailed ones).
bench-all: $(STAMP)
	-@$(MAKE) --no-print-directory $(BENCH_VENV)/.installed
	$(BIN)/python bench/run.py --all

# The bench venv: torch 2.13.0 (CPU) from the default index / find-links, then tensorgrad
# 0.3.0 (symbolic only; its numeric evaluation does not work with current torch).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet 'torch==2.13.0'
	$(BENCH_VENV)/bin/python -m pip install --quiet 'tensorgrad==0.3.0'
	@touch $@

bench-peer: $(BENCH_VENV)/.installed $(STAMP)
	$(BIN)/python bench/bench_simplify.py

# A longer fuzz run of the front end than the one inside `make test`, on fresh random
# examples (make test draws the same ones every run).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=explore DIAGALG_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz_frontend.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info

# The golden pictures of tests/test_render_golden.py (tests/golden/*.png) redrawn by headless
# Chromium: run after a change to the drawing meant to change them, and look at them.
goldens: $(STAMP)
	$(BIN)/python scripts/make_goldens.py
