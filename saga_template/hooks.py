"""What the cookiecutter hooks do, as importable and testable functions.

The scripts in ``hooks/`` only locate this package and call these two entry points.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from saga_template.asl import render_definition
from saga_template.extensions import python_tuple
from saga_template.model import AnswerError, SagaModel, parse

ITEM_TEMPLATES = "_item_templates"
# Inside each item template folder: files under "generated" are rewritten on
# every rendering; files under "user" are the user's once written.
GENERATED, USER_OWNED = "generated", "user"
ANSWERS_FILE = ".cookiecutter.json"
STATE_MACHINE_FILE = "statemachine/saga.asl.json"
DIAGRAM_MODULE = "devtools/diagram.py"

# Paths, relative to the project, that only one database mode uses.
DATABASE_MODE_PATHS: dict[str, tuple[str, ...]] = {
    "data_api": (
        "src/{package}/database/data_api.py",
        "infra/database_data_api.py",
        "tests/infra/test_database_data_api.py",
        "devtools/data_api_emulator.py",
        "tests/database/test_data_api.py",
    ),
    "rds_proxy": (
        "src/{package}/database/rds_proxy.py",
        "infra/database_rds_proxy.py",
        "tests/infra/test_database_rds_proxy.py",
        "devtools/pgbouncer.py",
        "tests/database/test_rds_proxy.py",
    ),
}


def pre_gen_project(answers: Mapping[str, Any]) -> int:
    """Validate the answers; print one ``ERROR:`` line and return 1 if they cannot be used."""
    try:
        parse(answers)
    except AnswerError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


def post_gen_project(answers: Mapping[str, Any], project_dir: Path) -> int:
    """Complete a freshly rendered project. Safe to run again over the same project."""
    saga = parse(answers)
    templates = project_dir / ITEM_TEMPLATES
    if templates.is_dir():
        render_items(saga, templates, project_dir)
        shutil.rmtree(templates)
    remove_unused_database_mode(saga, project_dir)
    write_state_machine(saga, project_dir)
    write_answers(answers, project_dir)
    return 0


def render_items(saga: SagaModel, templates: Path, project_dir: Path) -> list[Path]:
    """Render one file set per service and per consumer; never overwrite a user-owned file."""
    environment = Environment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["python_tuple"] = python_tuple
    written: list[Path] = []
    for kind, items in (("service", saga.services), ("consumer", saga.consumers)):
        for item in items:
            variables = {"saga": saga, kind: item}
            for template_path, ownership in _item_files(templates / kind):
                target = project_dir / environment.from_string(template_path.as_posix()).render(variables)
                if ownership == USER_OWNED and target.exists():
                    continue
                source = f"{kind}/{ownership}/{template_path.as_posix()}"
                content = environment.get_template(source).render(variables)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
                written.append(target)
    return written


def _item_files(kind_dir: Path) -> Iterator[tuple[Path, str]]:
    for ownership in (GENERATED, USER_OWNED):
        root = kind_dir / ownership
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path.relative_to(root), ownership


def remove_unused_database_mode(saga: SagaModel, project_dir: Path) -> None:
    for mode, paths in DATABASE_MODE_PATHS.items():
        if mode == saga.database_mode:
            continue
        for pattern in paths:
            path = project_dir / pattern.format(package=saga.package_name)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def write_state_machine(saga: SagaModel, project_dir: Path) -> Path:
    """Write the saga's ASL definition, then redraw the README's diagram from that file.

    The diagram is drawn by the project's own ``devtools/diagram.py`` (what ``make diagram``
    runs), so the README a user receives and the one they regenerate never differ.
    """
    path = project_dir / STATE_MACHINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_definition(saga), encoding="utf-8")
    diagram_module = project_dir / DIAGRAM_MODULE
    if diagram_module.is_file():
        spec = importlib.util.spec_from_file_location("saga_project_diagram", diagram_module)
        assert spec is not None
        assert spec.loader is not None
        diagram = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(diagram)
        diagram.update_readme(project_dir)
    return path


def write_answers(answers: Mapping[str, Any], project_dir: Path) -> None:
    """Save the answers (not cookiecutter's private keys) so the project can be rendered again."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    public["_template"] = answers.get("_template", "")
    (project_dir / ANSWERS_FILE).write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")
