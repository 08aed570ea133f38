"""Jinja extension that gives templates the parsed saga model.

Templates write ``{% set saga = cookiecutter | saga_model %}`` and read
``saga.steps`` and friends; hooks get the template's location from
``saga_template_dir`` so they can import the same parser. ``cookiecutter.json`` derives the
``compensations`` default from the ``services`` answer with ``default_compensations``.

cruft updates a project by rendering the old and the new template commit, one after the other,
from one clone in one process. Python keeps the modules imported for the first rendering, so
each environment checks the template's files and reloads what changed: the second rendering
then uses the new commit's parser and filters, as its templates expect.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from jinja2 import Environment
from jinja2.ext import Extension

from saga_template import model
from saga_template.model import SagaModel


class SagaExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        reloaded_if_changed("saga_template.model")
        reloaded_if_changed("saga_template.extensions").install(environment)


def install(environment: Environment) -> None:
    environment.filters["saga_model"] = _saga_model
    environment.filters["default_compensations"] = default_compensations
    environment.globals["saga_template_dir"] = str(Path(__file__).resolve().parent.parent)


def reloaded_if_changed(name: str) -> ModuleType:
    """The module ``name`` as its source file reads now, reloaded if the file changed since it was loaded."""
    module = importlib.import_module(name)
    path = Path(str(module.__file__))
    source = path.read_bytes()
    loaded = vars(module).get("__saga_source__")
    if loaded is not None and loaded != source:
        # The cached bytecode may carry the old file's timestamp and size: compile from the source.
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
        module = importlib.reload(module)
    vars(module)["__saga_source__"] = source
    return module


def _saga_model(answers: Mapping[str, object]) -> SagaModel:
    return model.parse(answers)


def default_compensations(services: str) -> str:
    """``cancel_<step>`` for every step but the last, as the ``compensations`` answer writes it.

    The last step's success ends the saga and its rejection needs no undoing; a crash or a timeout
    after its work leaves that work in place, as the README says, since a compensation for it too
    would not fit an EXPRESS saga of three steps. Names are normalized as the parser normalizes
    them. A step whose ``cancel_<step>`` would be too long or would be another step's name gets
    none, so the default is always a valid answer; malformed services give "", leaving validation
    to report what is wrong with them.
    """
    try:
        steps = [model._check_name("service", raw) for raw in model.split_list(services)]
    except model.AnswerError:
        return ""
    if len(set(steps)) != len(steps):
        return ""
    compensations = [(step, f"cancel_{step}") for step in steps[:-1]]
    return ", ".join(
        f"{step}={name}" for step, name in compensations if len(name) <= model.MAX_NAME_LENGTH and name not in steps
    )
