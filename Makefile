# One-command setup: every target bootstraps .venv on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-tikz docs bench bench-peer clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (diagalg needs Python >= 3.11; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diagalg check examples/

test: $(STAMP)
	$(BIN)/python -m pytest tests

# TikZ output compiled by LaTeX (`make test` only checks its structure). Installs
# Debian's texlive packages when pdflatex is missing and apt-get is usable.
test-tikz: $(STAMP)
	$(BIN)/python scripts/test_tikz.py

# docs/tutorial.md and docs/pictures/ from examples/ (tests/test_tutorial.py keeps them true)
docs: $(STAMP)
	$(BIN)/python scripts/make_docs.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Optional: the peer measured by bench/bench_simplify.py, in its own venv (never a
# dependency of diagalg). torch comes from its CPU-only index (about 1 GB installed).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(BENCH_VENV)/bin/python -m pip install --quiet 'tensorgrad==0.3.0'
	@touch $@

bench-peer: $(BENCH_VENV)/.installed $(STAMP)
	$(BIN)/python bench/bench_simplify.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info
