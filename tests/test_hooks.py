"""The hooks' logic, called directly: validation output, per-item rendering, idempotency."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from saga_template import hooks
from saga_template.extensions import python_tuple
from saga_template.model import parse
from tests.conftest import TEMPLATE_ROOT, answers

ITEM_TEMPLATES = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / hooks.ITEM_TEMPLATES


def tree(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.rglob("*")) if path.is_file()}


def project_with_item_templates(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ITEM_TEMPLATES, project / hooks.ITEM_TEMPLATES)
    return project


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


def test_post_gen_renders_one_file_set_per_item_and_removes_the_templates(tmp_path: Path) -> None:
    project = project_with_item_templates(tmp_path)
    hooks.post_gen_project(answers(), project)
    files = set(tree(project))
    assert not (project / hooks.ITEM_TEMPLATES).exists()
    for service in ("payment", "inventory", "shipping"):
        assert f"src/order_saga/services/{service}/handler.py" in files
        assert f"src/order_saga/services/{service}/logic.py" in files
        assert f"tests/services/test_{service}_handler.py" in files
    for consumer in ("notifications", "analytics"):
        assert f"src/order_saga/consumers/{consumer}/handler.py" in files
    assert json.loads((project / ".cookiecutter.json").read_text())["services"] == "payment, inventory, shipping"


def test_rendering_again_gives_the_same_tree_and_keeps_user_edits(tmp_path: Path) -> None:
    project = project_with_item_templates(tmp_path)
    hooks.post_gen_project(answers(), project)
    first = tree(project)
    logic = project / "src/order_saga/services/payment/logic.py"
    logic.write_text(logic.read_text() + "\n# edited by the user\n")
    handler = project / "src/order_saga/services/payment/handler.py"
    handler.write_text("stale")

    shutil.copytree(ITEM_TEMPLATES, project / hooks.ITEM_TEMPLATES)
    hooks.post_gen_project(answers(), project)
    second = tree(project)
    assert second.pop("src/order_saga/services/payment/logic.py").endswith("# edited by the user\n")
    first.pop("src/order_saga/services/payment/logic.py")
    assert second == first


def test_render_items_creates_parent_folders_and_skips_existing_user_files(tmp_path: Path) -> None:
    saga = parse(answers(services="billing", compensations="", consumers=""))
    written = hooks.render_items(saga, ITEM_TEMPLATES, tmp_path)
    assert (tmp_path / "src/order_saga/services/billing/logic.py").is_file()
    again = hooks.render_items(saga, ITEM_TEMPLATES, tmp_path)
    assert {path.name for path in written} - {path.name for path in again} == {
        "logic.py",
        "test_billing_logic.py",
        "0001_create_billing.sql",
    }


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


@pytest.mark.parametrize(("items", "text"), [((), "()"), (("A",), '("A",)'), (("A", "B"), '("A", "B")')])
def test_python_tuple_matches_ruff_style(items: tuple[str, ...], text: str) -> None:
    assert python_tuple(items) == text
