# Two commands do everything: `make demo` and `make test`.
# The root .venv holds what is needed to render the template and test any project it generates.
BOOTSTRAP_PYTHON ?= python3
VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
DEMO_DIR := build/demo

.PHONY: install demo test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	@touch $@

demo: install
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/order-saga VIRTUAL_ENV=$(VENV) test

test: install
	$(PYTHON) -m pytest -n auto --dist loadgroup

# Paths are explicit: the generated project's files are Jinja templates, not Python.
MACHINERY := saga_template hooks tests

lint: install
	$(PYTHON) -m ruff check $(MACHINERY)
	$(PYTHON) -m ruff format --check $(MACHINERY)
	$(PYTHON) -m mypy

format: install
	$(PYTHON) -m ruff format $(MACHINERY)
	$(PYTHON) -m ruff check --fix $(MACHINERY)

clean:
	rm -rf build
