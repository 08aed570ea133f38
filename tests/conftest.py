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


def pytest_configure(config: pytest.Config) -> None:
    """Download, once and before any worker starts, the wheels that rendered projects vendor into their assets."""
    os.environ["LAMBDA_WHEELHOUSE"] = str(WHEELHOUSE)
    if hasattr(config, "workerinput"):
        return
    pyproject = (TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text()
    requirements = sorted(set(re.findall(r'"(psycopg\[binary\]==[^"]+)"', pyproject)))
    for machine, versions in LAMBDA_PLATFORMS.items():
        for version in versions.split():
            platforms = ["--platform", f"manylinux_2_28_{machine}", "--platform", f"manylinux2014_{machine}"]
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(WHEELHOUSE), *platforms]
            command += ["--implementation", "cp", "--python-version", version, "--only-binary=:all:", *requirements]
            subprocess.run(command, check=True, capture_output=True)


def answers(**overrides: str) -> dict[str, str]:
    """Fully rendered default answers, as cookiecutter hands them to the hooks, with overrides."""
    values = {
        key: value[0] if isinstance(value, list) else value
        for key, value in DEFAULT_ANSWERS.items()
        if "{{" not in str(value)
    }
    values.update(project_slug="order-saga", package_name="order_saga")
    values.update(overrides)
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
