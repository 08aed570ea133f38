"""What the cookiecutter hooks do, as importable and testable functions.

The scripts in ``hooks/`` only locate this package and call these two entry points.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from saga_template.model import AnswerError, SagaModel, parse

# Each step's and consumer's own files: the user's once written, never overwritten.
ITEM_TEMPLATES = "_item_templates"
ANSWERS_FILE = ".cookiecutter.json"
# The project's own tools that write its definition and the README's blocks drawn from it.
GENERATION_MODULES = ("infra.definition", "devtools.readme")

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
    write_answers(answers, project_dir)
    try:
        write_definition(project_dir)
    except AnswerError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


def render_items(saga: SagaModel, templates: Path, project_dir: Path) -> list[Path]:
    """Render one file set per step and per consumer; never overwrite a file that exists."""
    environment = Environment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    written: list[Path] = []
    for kind, items in (("step", saga.steps), ("consumer", saga.consumers)):
        for item in items:
            variables = {"saga": saga, kind: item}
            for template_path in sorted(path for path in (templates / kind).rglob("*") if path.is_file()):
                relative = template_path.relative_to(templates / kind).as_posix()
                target = project_dir / environment.from_string(relative).render(variables)
                if target.exists():
                    continue
                content = environment.get_template(f"{kind}/{relative}").render(variables)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
                written.append(target)
    return written


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


def write_definition(project_dir: Path) -> None:
    """Have the project build its state machine definition and draw the README's blocks from it.

    The project's own ``make definition`` does the same, so the files a user receives and those
    they rebuild never differ. It runs in a fresh interpreter (standard library only), since cruft
    renders two versions of the project in one process.
    """
    environment = {**os.environ, "PYTHONPATH": str(project_dir / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    for module in GENERATION_MODULES:
        command = [sys.executable, "-m", module]
        finished = subprocess.run(
            command, cwd=project_dir, env=environment, capture_output=True, text=True, check=False
        )
        if finished.returncode != 0:
            errors = [line for line in finished.stderr.splitlines() if line.startswith("ERROR: ")]
            raise AnswerError(errors[0].removeprefix("ERROR: ") if errors else f"{module} failed:\n{finished.stderr}")


def write_answers(answers: Mapping[str, Any], project_dir: Path) -> None:
    """Save the answers (not cookiecutter's private keys) so the project can be rendered again."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    public["_template"] = answers.get("_template", "")
    (project_dir / ANSWERS_FILE).write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")
