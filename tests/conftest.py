"""Shared helpers for the template's own tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from saga_template.extensions import default_compensations

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_ROOT))

DEFAULT_ANSWERS: dict[str, Any] = {
    key: value
    for key, value in json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
}


# Lambda dependency wheels for every architecture and runtime, shared by all the renderings.
WHEELHOUSE = TEMPLATE_ROOT / "build" / "wheelhouse"
LAMBDA_PLATFORMS = {"aarch64": "3.12 3.13", "x86_64": "3.12 3.13"}


# The tools the generated projects' tests run, which `make install` would put in each project: the CDK CLI
# that package-lock.json pins and checkov, in a virtualenv of its own. Installed once, shared through
# CDK_CLI and CHECKOV.
PROJECT_TEMPLATE = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}"
CDK_CLI = TEMPLATE_ROOT / "build" / "cdk-cli"
CHECKOV = TEMPLATE_ROOT / "build" / "checkov"


def install_project_tools() -> None:
    """``npm ci`` of the project's package files and checkov's pinned requirements, unless done for these files."""
    CDK_CLI.mkdir(parents=True, exist_ok=True)
    package_files = {
        name: (PROJECT_TEMPLATE / name).read_text().replace("{{ cookiecutter.project_slug }}", "cdk-cli")
        for name in ("package.json", "package-lock.json")
    }
    if not (CDK_CLI / "node_modules").is_dir() or any(
        not (CDK_CLI / name).is_file() or (CDK_CLI / name).read_text() != text for name, text in package_files.items()
    ):
        for name, text in package_files.items():
            (CDK_CLI / name).write_text(text)
        npm_ci = ["npm", "ci", "--silent", "--no-audit", "--no-fund"]
        subprocess.run(npm_ci, cwd=CDK_CLI, check=True, capture_output=True)
    requirements = (PROJECT_TEMPLATE / "requirements-checkov.txt").read_text()
    installed = CHECKOV / "requirements-checkov.txt"
    if not installed.is_file() or installed.read_text() != requirements:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CHECKOV)], check=True, capture_output=True)
        pip = [str(CHECKOV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r"]
        subprocess.run([*pip, str(PROJECT_TEMPLATE / "requirements-checkov.txt")], check=True, capture_output=True)
        installed.write_text(requirements)


def lambda_requirements() -> list[str]:
    """What any rendering's functions vendor: the runtime dependencies of the project's pyproject.toml, under
    every database mode, less the packages the Lambda runtime provides (as infra/packaging.py filters them)."""
    pyproject = (PROJECT_TEMPLATE / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.MULTILINE | re.DOTALL)
    provided = re.search(
        r"^PROVIDED_IN_LAMBDA = \{(.*?)\}", (PROJECT_TEMPLATE / "infra" / "packaging.py").read_text(), re.M
    )
    if block is None or provided is None:
        raise RuntimeError("pyproject.toml's dependencies or packaging.py's PROVIDED_IN_LAMBDA are no longer found")
    excluded = set(re.findall(r'"([^"]+)"', provided.group(1)))
    requirements = re.findall(r'^\s*"([^"]+)",', block.group(1), re.MULTILINE)
    return sorted(r for r in requirements if re.split(r"[\[=<>!~;\s]", r, maxsplit=1)[0].lower() not in excluded)


# Tests that lint, type-check, synthesize or run generated projects: minutes each. `--fast` leaves them out.
SLOW_MARKERS = ("matrix", "regeneration", "bench")
# Started first under xdist: each runs one or more generated projects' whole test suites.
LONGEST_FIRST = ("regeneration", "suite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true", help=f"leave out the tests marked {' or '.join(SLOW_MARKERS)}")


def pytest_configure(config: pytest.Config) -> None:
    """Download, once and before any worker starts, the wheels that rendered projects vendor into their assets,
    and install the tools their tests run."""
    os.environ["LAMBDA_WHEELHOUSE"] = str(WHEELHOUSE)
    os.environ["CDK_CLI"] = str(CDK_CLI / "node_modules" / ".bin" / "cdk")
    os.environ["CHECKOV"] = str(CHECKOV / "bin" / "checkov")
    if hasattr(config, "workerinput") or config.getoption("fast"):
        return
    install_project_tools()
    requirements = lambda_requirements()
    for machine, versions in LAMBDA_PLATFORMS.items():
        for version in versions.split():
            platforms = ["--platform", f"manylinux_2_28_{machine}", "--platform", f"manylinux2014_{machine}"]
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(WHEELHOUSE), *platforms]
            command += ["--implementation", "cp", "--python-version", version, "--only-binary=:all:", *requirements]
            subprocess.run(command, check=True, capture_output=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the slow tests under ``--fast``; otherwise start the longest first, so the workers finish together."""
    if config.getoption("fast"):
        slow = [item for item in items if any(item.get_closest_marker(marker) for marker in SLOW_MARKERS)]
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]
    items.sort(key=lambda item: [not item.get_closest_marker(marker) for marker in LONGEST_FIRST])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures a test recorded (the short benchmark's), printed after the results, from any worker."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in report.user_properties:
            if name == "figures":
                terminalreporter.write_sep("-", f"figures of {report.nodeid}")
                terminalreporter.write_line(str(value))


def answers(**overrides: str) -> dict[str, str]:
    """Fully rendered default answers, as cookiecutter hands them to the hooks, with overrides.

    As in cookiecutter's prompts, the compensations default follows the services answer.
    """
    values = {
        key: value[0] if isinstance(value, list) else value
        for key, value in DEFAULT_ANSWERS.items()
        if "{{" not in str(value)
    }
    values.update(project_slug="order-saga", package_name="order_saga")
    values.update(overrides)
    values.setdefault("compensations", default_compensations(values["services"]))
    return values


def run(command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool from this interpreter's environment and return its output, whatever the exit code."""
    return subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )


def tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@pytest.fixture
def bake(cookies: Any) -> Any:
    """Render the template with extra answers; returns pytest-cookies' result."""

    def render(**extra_context: str) -> Any:
        return cookies.bake(extra_context=extra_context)

    return render
