"""The hooks' logic, called directly: validation, per-item rendering, idempotency, the project's own definition."""

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from saga_template import hooks
from saga_template.model import AnswerError, parse
from tests.conftest import TEMPLATE_ROOT, answers

ITEM_TEMPLATES = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / hooks.ITEM_TEMPLATES


def tree(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("script", ["pre_gen_project", "post_gen_project"])
def test_hook_scripts_import_without_running(script: str) -> None:
    spec = importlib.util.spec_from_file_location(script, TEMPLATE_ROOT / "hooks" / f"{script}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)


def test_pre_gen_accepts_good_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert hooks.pre_gen_project(answers()) == 0
    assert capsys.readouterr().err == ""


def test_pre_gen_prints_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert hooks.pre_gen_project(answers(services="payment, payment")) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["ERROR: service 'payment' is declared twice (as 'payment')"]


def test_each_step_and_consumer_gets_its_own_modules_tests_and_migration(tmp_path: Path) -> None:
    written = hooks.render_items(parse(answers()), ITEM_TEMPLATES, tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == sorted(
        [
            *[f"src/order_saga/steps/{step}.py" for step in ("payment", "inventory", "shipping")],
            *[f"tests/steps/test_{step}.py" for step in ("payment", "inventory", "shipping")],
            *[f"src/order_saga/database/migrations/{s}/0001_create_{s}.sql" for s in ("payment", "inventory")],
            "src/order_saga/database/migrations/shipping/0001_create_shipping.sql",
            *[f"src/order_saga/consumers/{name}.py" for name in ("notifications", "analytics")],
            *[f"tests/consumers/test_{name}.py" for name in ("notifications", "analytics")],
        ]
    )
    assert "def cancel_payment(" in (tmp_path / "src/order_saga/steps/payment.py").read_text()
    assert "def " not in (tmp_path / "src/order_saga/steps/shipping.py").read_text().split("def execute", 1)[1]


def test_rendering_again_keeps_the_users_files_and_writes_only_what_is_missing(tmp_path: Path) -> None:
    hooks.render_items(parse(answers()), ITEM_TEMPLATES, tmp_path)
    logic = tmp_path / "src/order_saga/steps/payment.py"
    logic.write_text(logic.read_text() + "\n# edited by the user\n")
    (tmp_path / "tests/steps/test_inventory.py").unlink()
    again = hooks.render_items(parse(answers()), ITEM_TEMPLATES, tmp_path)
    assert [path.relative_to(tmp_path).as_posix() for path in again] == ["tests/steps/test_inventory.py"]
    assert logic.read_text().endswith("# edited by the user\n")


@pytest.mark.parametrize(("mode", "other"), [("data_api", "rds_proxy"), ("rds_proxy", "data_api")])
def test_files_of_the_other_database_mode_are_removed(tmp_path: Path, mode: str, other: str) -> None:
    saga = parse(answers(database_mode=mode))
    for paths in hooks.DATABASE_MODE_PATHS.values():
        for pattern in paths:
            path = tmp_path / pattern.format(package=saga.package_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    hooks.remove_unused_database_mode(saga, tmp_path)
    for pattern in hooks.DATABASE_MODE_PATHS[mode]:
        assert (tmp_path / pattern.format(package="order_saga")).exists()
    for pattern in hooks.DATABASE_MODE_PATHS[other]:
        assert not (tmp_path / pattern.format(package="order_saga")).exists()


def test_answers_file_keeps_public_answers_only(tmp_path: Path) -> None:
    hooks.write_answers({**answers(), "_template": "gh:org/repo", "_output_dir": "/tmp/x"}, tmp_path)
    saved = json.loads((tmp_path / ".cookiecutter.json").read_text())
    assert saved == {**answers(), "_template": "gh:org/repo"}


def test_the_definition_is_written_by_the_projects_own_builder(bake: Any) -> None:
    """One builder: the hook runs the project's ``infra.definition``, as ``make definition`` does."""
    project = bake().project_path
    before = tree(project)
    (project / "statemachine" / "saga.asl.json").unlink()
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("| 1 | `payment`", "| 1 | `stale`"))
    hooks.write_definition(project)
    assert tree(project) == before


def test_a_saga_the_builder_refuses_is_an_answer_error(bake: Any, tmp_path: Path) -> None:
    project = bake().project_path
    saga_module = project / "src" / "order_saga" / "saga.py"
    steps = "".join(f'    Step("s{index}", compensation="u{index}"),\n' for index in range(8))
    express = saga_module.read_text().replace('"STANDARD"', '"EXPRESS"')
    saga_module.write_text(express.replace("STEPS: tuple[Step, ...] = (\n", f"STEPS: tuple[Step, ...] = (\n{steps}"))
    with pytest.raises(AnswerError, match="cannot end within 270 s"):
        hooks.write_definition(project)
    shutil.rmtree(project)
