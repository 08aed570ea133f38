# Two commands do everything: `make demo` and `make test`.
# The root .venv holds what is needed to render the template and test any project it generates.
BOOTSTRAP_PYTHON ?= python3
VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
DEMO_DIR := build/demo

.PHONY: install demo test lint format clean bench

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	@touch $@

demo: install
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/order-saga VIRTUAL_ENV=$(VENV) perf-report test
	$(MAKE) -C $(DEMO_DIR)/order-saga VIRTUAL_ENV=$(VENV) local-run ARGS="--fail inventory:timeout"

test: install
	$(PYTHON) -m pytest -n auto --dist loadgroup

# Paths are explicit: the generated project's files are Jinja templates, not Python.
MACHINERY := saga_template hooks tests bench

lint: install
	$(PYTHON) -m ruff check $(MACHINERY)
	$(PYTHON) -m ruff format --check $(MACHINERY)
	$(PYTHON) -m mypy

format: install
	$(PYTHON) -m ruff format $(MACHINERY)
	$(PYTHON) -m ruff check --fix $(MACHINERY)

# Renders projects into build/bench and prints their figures (cold imports, assets, local loop,
# cost per saga) and the template's own. The template's test matrix is slow: give its recorded
# time with ARGS="--matrix-seconds S", or run it here with ARGS="--run-matrix".
bench: install
	$(PYTHON) -m bench.template $(ARGS)

clean:
	rm -rf build
