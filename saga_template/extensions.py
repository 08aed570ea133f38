"""Jinja extension that gives templates the parsed saga model.

Templates write ``{% set saga = cookiecutter | saga_model %}`` and read
``saga.services`` and friends; hooks get the template's location from
``saga_template_dir`` so they can import the same parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

from saga_template.model import SagaModel, parse


class SagaExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["saga_model"] = _saga_model
        environment.filters["python_tuple"] = python_tuple
        environment.globals["saga_template_dir"] = str(Path(__file__).resolve().parent.parent)


def _saga_model(answers: Mapping[str, object]) -> SagaModel:
    return parse(answers)


def python_tuple(items: Iterable[str]) -> str:
    """A tuple of string literals, written the way ruff formats it."""
    literals = [json.dumps(item) for item in items]
    return f"({literals[0]},)" if len(literals) == 1 else f"({', '.join(literals)})"
