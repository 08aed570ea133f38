"""Rendering through cookiecutter itself: refusals leave nothing behind, answers stay data."""

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.test_model import INVALID


def output_dirs(tmpdir: Any) -> list[Path]:
    return [path for path in (Path(tmpdir) / "cookies").iterdir() if path.is_dir()]


@pytest.mark.parametrize(("overrides", "message"), INVALID[:-2])
def test_refused_answers_exit_1_print_the_rule_and_leave_no_folder(
    bake: Any, tmpdir: Any, capfd: pytest.CaptureFixture[str], overrides: dict[str, str], message: str
) -> None:
    result = bake(**overrides)
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1
    assert message in errors[0]
    for output_dir in output_dirs(tmpdir):
        assert list(output_dir.iterdir()) == []


@pytest.mark.parametrize(("key", "value"), [("database_mode", "dynamodb"), ("workflow_type", "standard")])
def test_unknown_choices_are_refused(bake: Any, key: str, value: str) -> None:
    assert bake(**{key: value}).exit_code != 0


def test_shell_and_quote_laden_answers_are_data(bake: Any, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    hostile = f"$(touch {marker}) `touch {marker}`; rm -rf {marker} '''\"\"\" back\\slash\nnew line"
    result = bake(description=hostile, author_name=f'O\'Brien "Bob" \\ $(touch {marker})')
    assert result.exit_code == 0, result.exception
    assert not marker.exists()
    project = result.project_path
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == " ".join(hostile.split())
    assert pyproject["project"]["authors"][0]["name"] == f'O\'Brien "Bob" \\ $(touch {marker})'
    saved = json.loads((project / ".cookiecutter.json").read_text())
    assert saved["description"] == hostile


def test_shell_looking_service_name_is_refused_not_run(bake: Any, tmp_path: Path, capfd: Any) -> None:
    marker = tmp_path / "executed"
    result = bake(services=f"payment; touch {marker}", compensations="")
    assert result.exit_code != 0
    assert not marker.exists()
    assert "ERROR: service name" in capfd.readouterr().err


def test_jinja_in_an_answer_is_rendered_by_cookiecutter_before_the_hooks_see_it(bake: Any, capfd: Any) -> None:
    """Cookiecutter renders every answer as a template; the hooks then treat the result as plain data."""
    result = bake(services="{{ 7 * 7 }}", compensations="")
    assert result.exit_code != 0
    assert "ERROR: service name '49'" in capfd.readouterr().err


@pytest.mark.parametrize("mode", ["data_api", "rds_proxy"])
def test_generated_pins_match_the_environment_the_template_tests_them_in(bake: Any, mode: str) -> None:
    """The root requirements install what the generated projects declare, at the same versions."""
    result = bake(database_mode=mode)
    assert result.exit_code == 0, result.exception
    project = tomllib.loads((result.project_path / "pyproject.toml").read_text())["project"]
    declared = {*project["dependencies"], *project["optional-dependencies"]["dev"]}
    root = Path(__file__).resolve().parent.parent / "requirements-dev.txt"
    pinned = {line.split("#")[0].strip() for line in root.read_text().splitlines()} - {""}
    assert declared <= pinned


def test_an_express_saga_too_long_for_five_minutes_is_refused_by_its_own_builder(
    bake: Any, tmpdir: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    services = ", ".join(f"s{index}" for index in range(8))
    compensations = ", ".join(f"s{index}=u{index}" for index in range(6))
    result = bake(workflow_type="EXPRESS", services=services, compensations=compensations)
    assert result.exit_code != 0
    (error,) = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert error.startswith("ERROR: an EXPRESS saga of 8 steps and 6 compensations cannot end within 270 s")
    assert error.endswith("choose STANDARD, or fewer steps")
    for output_dir in output_dirs(tmpdir):
        assert list(output_dir.iterdir()) == []
