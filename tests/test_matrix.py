"""Every combination of the choices, crossed with three saga shapes, rendered and checked end to end.

Each rendering must be clean (no template debris, valid Python, ruff and mypy clean), contain
exactly the per-service and per-consumer files it should, render again identically from its saved
answers, and pass its own test suite in this environment.
"""

import ast
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from saga_template.model import CHOICES, parse
from tests.conftest import answers, run, tool

SHAPES: dict[str, dict[str, str]] = {
    "single": {"services": "charge", "compensations": "", "consumers": ""},
    "defaults": {},
    "eight": {
        "services": (
            "Payment-Service,  LOYALTY , fraud check, Inventory, shipping-label, invoice, warehouse, Audit Trail"
        ),
        "compensations": (
            "payment-service=refund payment, LOYALTY=revoke-points, inventory=release_stock, "
            "shipping label=void-label, Invoice=cancel_invoice"
        ),
        "consumers": "notifications, Data-Lake, audit_sink",
    },
}
MATRIX_KEYS = ("database_mode", "workflow_type", "lambda_architecture", "python_version")
CASES = [
    pytest.param(shape, dict(zip(MATRIX_KEYS, values, strict=True)), id="-".join((shape, *values)))
    for shape in SHAPES
    for values in itertools.product(*(CHOICES[key] for key in MATRIX_KEYS))
]
# GitHub Actions expressions (${{ ... }}) are meant to be there.
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.(?!json\b)\w")


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"} & set(path.parts)
    }


def expected_item_files(extra: dict[str, str]) -> set[str]:
    saga = parse(answers(**extra))
    package = saga.package_name
    files = set()
    for service in saga.services:
        files |= {f"src/{package}/services/{service.name}.py", f"tests/services/test_{service.name}.py"}
        files |= {f"src/{package}/database/migrations/{service.name}/0001_create_{service.name}.sql"}
    for consumer in saga.consumers:
        files |= {f"src/{package}/consumers/{consumer.name}.py", f"tests/consumers/test_{consumer.name}.py"}
    return files


def item_files(files: dict[str, bytes]) -> set[str]:
    pattern = re.compile(
        r"^(src/\w+/(services|consumers)/(?!__init__)\w+\.py|src/\w+/database/migrations/|tests/(services|consumers)/)"
    )
    return {name for name in files if pattern.match(name)}


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per test worker: third-party stubs are analysed once, not per rendering."""
    return tmp_path_factory.getbasetemp() / "mypy-cache"


@pytest.mark.matrix
@pytest.mark.parametrize(("shape", "choices"), CASES)
def test_rendering(bake: Any, subtests: Any, mypy_cache: Path, shape: str, choices: dict[str, str]) -> None:
    extra = {**SHAPES[shape], **choices}
    result = bake(**extra)
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    files = tree(project)

    with subtests.test("no template debris"):
        debris = [name for name, content in files.items() if LEFTOVER.search(content.decode())]
        assert debris == []
        assert not (project / "_item_templates").exists()

    with subtests.test("every Python file parses"):
        for name, content in files.items():
            if name.endswith(".py"):
                ast.parse(content, filename=name)

    with subtests.test("exactly the per-service and per-consumer files"):
        assert item_files(files) == expected_item_files(extra)

    with subtests.test("ruff"):
        for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
            checked = run([tool("ruff"), *command], project)
            assert checked.returncode == 0, checked.stdout + checked.stderr

    with subtests.test("mypy"):
        checked = run([tool("mypy"), "--cache-dir", str(mypy_cache)], project)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    with subtests.test("saved answers render the same project"):
        saved = json.loads((project / ".cookiecutter.json").read_text())
        again = bake(**{key: value for key, value in saved.items() if not key.startswith("_")})
        assert again.exit_code == 0, again.exception
        assert tree(again.project_path) == files

    with subtests.test("the project's own tests pass"):
        tested = run([tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
        assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
