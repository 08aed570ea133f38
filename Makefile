# Two commands do everything: `make demo` and `make test`; `make test-fast` is the quick loop.
# The root .venv holds what is needed to render the template and test any project it generates.
BOOTSTRAP_PYTHON ?= python3
VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
DEMO_DIR := build/demo

.PHONY: install demo test test-fast lint format clean bench
# Prerequisites run in the order written: the programs are checked before anything is installed.
.NOTPARALLEL:

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# Names each missing program with the command that installs it, and stops (saga_template/prerequisites.py).
prerequisites-%:
	@$(BOOTSTRAP_PYTHON) -m saga_template.prerequisites $*

# The default project, as its README says to use it: its own .venv, install, tests, one traced failing saga.
demo: prerequisites-demo install
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/order-saga VIRTUAL_ENV= install test
	$(MAKE) -C $(DEMO_DIR)/order-saga VIRTUAL_ENV= local-run ARGS="--fail inventory:timeout"

# Everything: every combination rendered and proven, the generated suites, the cruft round trip,
# and `make bench` in short (two runs of every section; its figures are printed, not asserted).
test: prerequisites-test install
	$(PYTHON) -m pytest -n auto --dist loadgroup

# The parser, the hooks, the prompts and generation; no generated project's suite.
test-fast: prerequisites-test-fast install
	$(PYTHON) -m pytest -n auto --dist loadgroup --fast

# Paths are explicit: the generated project's files are Jinja templates, not Python.
MACHINERY := saga_template hooks tests bench

lint: install
	$(PYTHON) -m ruff check $(MACHINERY)
	$(PYTHON) -m ruff format --check $(MACHINERY)
	$(PYTHON) -m mypy

format: install
	$(PYTHON) -m ruff format $(MACHINERY)
	$(PYTHON) -m ruff check --fix $(MACHINERY)

# Renders projects into build/bench and prints their figures: each function's cold start next to
# the baseline, asset sizes, 1,000 concurrent database invocations, one offline saga, the failure
# matrix, the rendering time. Loopback only; it downloads the Lambda wheels it needs. It measures
# with the first python3.13 or python3.12 on the PATH (ARGS="--python PATH" to choose). The
# template's test matrix is slow: give its recorded time with ARGS="--matrix-seconds S", or run
# it here with ARGS="--run-matrix".
bench: install
	$(PYTHON) -m bench.template $(ARGS)

clean:
	rm -rf build
