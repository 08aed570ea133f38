"""Every combination of the choices, crossed with three saga shapes, rendered and proven.

The choices are of two kinds. ``database_mode`` and ``workflow_type`` change what the project is:
other modules, other infrastructure, another definition. ``lambda_architecture`` and
``python_version`` only set a constant in ``infra/config.py`` (and the lines of the README and the
CI workflow that name it), which the code reads at synthesis.

So every combination is rendered and must be clean (no template debris; Python, JSON, YAML and
TOML that parse; ruff clean) with exactly its per-step and per-consumer files, and render again
identically from its saved answers. The project's own suite and mypy run once per combination of
the behaviour choices, the three shapes spread over them. Each constant-only choice is proven by
difference: a rendering differs from the one with that choice at its default in the lines that
name the value and nowhere else, and the project synthesizes with every value.
"""

import ast
import collections
import itertools
import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from saga_template.model import CHOICES, parse
from tests.conftest import answers, run, tool

pytestmark = pytest.mark.matrix

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
BEHAVIOUR = ("database_mode", "workflow_type")
CONSTANTS = ("lambda_architecture", "python_version")
# The shape whose whole suite runs for each behaviour combination: every combination once, every
# shape at least once, and the defaults as cookiecutter --no-input renders them.
SUITES = {
    ("data_api", "STANDARD"): "defaults",
    ("rds_proxy", "STANDARD"): "eight",
    ("data_api", "EXPRESS"): "single",
    ("rds_proxy", "EXPRESS"): "defaults",
}
# `cookiecutter --no-input`'s project runs its README's first commands as a newcomer would: with no
# virtualenv active and none of the tools this suite shares, so that `make install` has to make them all.
NEWCOMER = (("data_api", "STANDARD"), "defaults")
SHARED_TOOLS = ("VIRTUAL_ENV", "LAMBDA_WHEELHOUSE", "CDK_CLI", "CHECKOV", "MAKEFLAGS", "MAKELEVEL")
# Eight steps cannot end within Express's five minutes at worst: the project's own builder refuses them.
REFUSED = {("eight", "EXPRESS"): "ERROR: an EXPRESS saga of 8 steps and 5 compensations cannot end within 270 s"}
# The lines that name a constant's value, per file.
CONSTANT_LINES = {
    "lambda_architecture": {".cookiecutter.json": 1, "infra/config.py": 1, "README.md": 1},
    "python_version": {".cookiecutter.json": 1, "infra/config.py": 1, "README.md": 1, ".github/workflows/ci.yml": 2},
}
# Lambda's price per GB-second depends on the architecture, so the README's cost table, which the
# project computes at generation, also differs in its prices, and in nothing else.
PRICED = {"lambda_architecture": ("README.md", re.compile(r"\$?\d+\.\d+"))}

KEYS = ("shape", *BEHAVIOUR, *CONSTANTS)
CASES = [
    pytest.param(dict(zip(KEYS, values, strict=True)), id="-".join(values))
    for values in itertools.product(SHAPES, *(CHOICES[key] for key in (*BEHAVIOUR, *CONSTANTS)))
]
# What the project's pre-commit hooks and ruff parse.
PARSERS: dict[str, Callable[[str], object]] = {
    ".py": ast.parse,
    ".json": json.loads,
    ".yaml": yaml.safe_load,
    ".yml": yaml.safe_load,
    ".toml": tomllib.loads,
}
# GitHub Actions expressions (${{ ... }}) are meant to be there.
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.(?!json\b)\w")


def extra_context(case: dict[str, str]) -> dict[str, str]:
    return {**SHAPES[case["shape"]], **{key: value for key, value in case.items() if key != "shape"}}


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
    for step in saga.steps:
        files |= {f"src/{package}/steps/{step.name}.py", f"tests/steps/test_{step.name}.py"}
        files |= {f"src/{package}/database/migrations/{step.name}/0001_create_{step.name}.sql"}
    for consumer in saga.consumers:
        files |= {f"src/{package}/consumers/{consumer.name}.py", f"tests/consumers/test_{consumer.name}.py"}
    return files


def item_files(files: dict[str, bytes]) -> set[str]:
    pattern = re.compile(
        r"^(src/\w+/(steps|consumers)/(?!__init__)\w+\.py|src/\w+/database/migrations/|tests/(steps|consumers)/)"
    )
    return {name for name in files if pattern.match(name)}


def differences(reference: dict[str, bytes], variant: dict[str, bytes], key: str, value: str) -> list[str]:
    """What differs between two renderings apart from ``key``'s lines; [] when that is all."""
    default = CHOICES[key][0]
    assert reference.keys() == variant.keys()
    unexplained, named = [], collections.Counter[str]()
    for name in reference:
        before, after = reference[name].decode().splitlines(), variant[name].decode().splitlines()
        if len(before) != len(after):
            unexplained.append(f"{name}: {len(before)} lines, then {len(after)}")
            continue
        for old, new in zip(before, after, strict=True):
            if old == new:
                continue
            if default in old and old.replace(default, value) == new:
                named[name] += 1
                continue
            priced, price = PRICED.get(key, ("", None))
            if name == priced and price and price.sub("", old.replace(default, value)) == price.sub("", new):
                continue
            unexplained.append(f"{name}: {old!r} became {new!r}")
    if named != CONSTANT_LINES[key]:
        unexplained.append(f"lines naming {key}: {dict(named)}, expected {CONSTANT_LINES[key]}")
    return unexplained


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per test worker: third-party stubs are analysed once, not per rendering."""
    return tmp_path_factory.getbasetemp() / "mypy-cache"


@pytest.mark.parametrize("case", CASES)
def test_rendering(bake: Any, subtests: Any, capfd: pytest.CaptureFixture[str], case: dict[str, str]) -> None:
    extra = extra_context(case)
    result = bake(**extra)
    refusal = REFUSED.get((case["shape"], case["workflow_type"]))
    if refusal:
        assert result.exit_code != 0
        errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
        assert errors[0].startswith(refusal), errors
        return
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    files = tree(project)

    with subtests.test("no template debris"):
        debris = [name for name, content in files.items() if LEFTOVER.search(content.decode())]
        assert debris == []
        assert not (project / "_item_templates").exists()

    with subtests.test("every Python, JSON, YAML and TOML file parses"):
        unparsable = []
        for name, content in files.items():
            parser = PARSERS.get(Path(name).suffix)
            if parser is None:
                continue
            try:
                parser(content.decode())
            except (SyntaxError, ValueError, yaml.YAMLError) as error:
                unparsable.append(f"{name}: {error}")
        assert unparsable == []

    with subtests.test("exactly the per-step and per-consumer files"):
        assert item_files(files) == expected_item_files(extra)

    with subtests.test("ruff"):
        for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
            checked = run([tool("ruff"), *command], project)
            assert checked.returncode == 0, checked.stdout + checked.stderr

    with subtests.test("saved answers render the same project"):
        saved = json.loads((project / ".cookiecutter.json").read_text())
        again = bake(**{key: value for key, value in saved.items() if not key.startswith("_")})
        assert again.exit_code == 0, again.exception
        assert tree(again.project_path) == files

    for key in CONSTANTS:
        if case[key] == CHOICES[key][0]:
            continue
        with subtests.test(f"{key} changes only the lines that name it"):
            reference = bake(**{**extra, key: CHOICES[key][0]})
            assert reference.exit_code == 0, reference.exception
            assert differences(tree(reference.project_path), files, key, case[key]) == []


@pytest.mark.suite
@pytest.mark.parametrize(
    ("behaviour", "shape"), [pytest.param(*suite, id="-".join((suite[1], *suite[0]))) for suite in SUITES.items()]
)
def test_project_suite(bake: Any, mypy_cache: Path, behaviour: tuple[str, str], shape: str) -> None:
    """mypy --strict and the project's own tests, for the combination's shape at the constants' defaults; for
    the defaults, through the README's first commands from a fresh install."""
    result = bake(**SHAPES[shape], **dict(zip(BEHAVIOUR, behaviour, strict=True)))
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    if (behaviour, shape) == NEWCOMER:
        first = re.search(r"```sh\n(.*?)```", (project / "README.md").read_text(), re.DOTALL)
        assert first is not None
        commands = [line.partition("#")[0].strip() for line in first.group(1).splitlines()]
        assert commands[:2] == ["make install", "make test"]
        newcomer = {name: value for name, value in os.environ.items() if name not in SHARED_TOOLS}
        for command in [commands[0], "make lint", *commands[1:]]:
            done = subprocess.run(shlex.split(command), cwd=project, env=newcomer, capture_output=True, text=True)
            assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
        return
    checked = run([tool("mypy"), "--cache-dir", str(mypy_cache)], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run([tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]


@pytest.mark.parametrize("database_mode", CHOICES["database_mode"])
@pytest.mark.parametrize(
    "constants",
    [values for values in itertools.product(*(CHOICES[key] for key in CONSTANTS)) if values != ("arm64", "3.13")],
    ids="-".join,
)
def test_every_constant_synthesizes(bake: Any, tmp_path: Path, database_mode: str, constants: tuple[str, str]) -> None:
    """The CDK app builds both stacks, its Python functions on that architecture and runtime, assets included."""
    architecture, version = constants
    result = bake(database_mode=database_mode, lambda_architecture=architecture, python_version=version)
    assert result.exit_code == 0, result.exception
    environment = {"CDK_OUTDIR": str(tmp_path / "cdk.out"), "PYTHONPATH": "src"}
    environment["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    synthesized = run([tool("python"), "app.py"], result.project_path, environment)
    assert synthesized.returncode == 0, synthesized.stdout[-3000:] + synthesized.stderr[-3000:]
    functions = [
        resource["Properties"]
        for template in (tmp_path / "cdk.out").glob("*.template.json")
        for resource in json.loads(template.read_text())["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Runtime"].startswith("python")
    ]
    assert functions
    assert {(f["Runtime"], *f["Architectures"]) for f in functions} == {(f"python{version}", architecture)}
