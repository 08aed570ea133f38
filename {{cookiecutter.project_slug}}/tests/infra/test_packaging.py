"""Lambda assets: built without Docker, each holding only what its function imports."""

import shutil
import zipfile
from pathlib import Path

import pytest

from infra import config, packaging
from {{ cookiecutter.package_name }}.naming import PACKAGE
from {{ cookiecutter.package_name }}.saga import CONSUMERS, STEPS


def files(asset: str) -> set[str]:
    root = Path(asset)
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def zipped_size(folder: str, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(Path(folder).rglob("*")):
            bundle.write(path, path.relative_to(folder))
    return archive.stat().st_size


def test_a_step_asset_holds_the_shared_runtime_its_own_module_and_the_database_only() -> None:
    step = STEPS[0]
    asset = files(packaging.step_asset(step.name))
    for shared in ("naming.py", "saga.py", "handlers.py", "runtime/step.py", "database/effects.py"):
        assert f"{PACKAGE}/{shared}" in asset, shared
    assert {name for name in asset if name.startswith(f"{PACKAGE}/steps/")} == {
        f"{PACKAGE}/steps/__init__.py",
        f"{PACKAGE}/steps/{step.name}.py",
    }
    assert not [name for name in asset if "/consumers/" in name or "/test_" in name]
    # Bytecode only for the functions' own Python, compiled when the asset was built.
    compiled = f".cpython-{config.PYTHON_VERSION.replace('.', '')}.pyc"
    assert all(name.endswith(compiled) for name in asset if "__pycache__" in name)


def test_assets_are_named_after_their_content_and_rebuilt_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Built apart: the shared build folder may be read by a synthesis running beside this test.
    monkeypatch.setattr(packaging, "BUILD", tmp_path)
    asset = Path(packaging.step_asset(STEPS[-1].name))
    assert asset.parent == tmp_path
    first = {name: (asset / name).read_bytes() for name in files(str(asset))}
    shutil.rmtree(asset)
    assert Path(packaging.step_asset(STEPS[-1].name)) == asset
    assert {name: (asset / name).read_bytes() for name in files(str(asset))} == first


def test_powertools_boto3_and_pydantic_come_from_lambda_not_from_the_asset() -> None:
    names = [requirement.split("[")[0].split("=")[0] for requirement in packaging.lambda_requirements()]
    assert not set(names) & packaging.PROVIDED_IN_LAMBDA
    top_level = {name.split("/")[0] for name in files(packaging.step_asset(STEPS[0].name))}
    assert not top_level & {"aws_lambda_powertools", "pydantic", "boto3"}


def test_functions_without_the_database_carry_neither_its_code_nor_its_driver() -> None:
    assets = [packaging.consumer_asset(consumer.name) for consumer in CONSUMERS] + [packaging.starter_asset()]
    for asset in assets:
        assert {name.split("/")[0] for name in files(asset) if not name.startswith("wrapt")} == {PACKAGE}
        assert not [name for name in files(asset) if name.startswith(f"{PACKAGE}/database/")]


def test_every_function_carries_its_own_wrapt_ahead_of_the_layers() -> None:
    assets = [packaging.step_asset(STEPS[0].name), packaging.starter_asset(), packaging.migrations_asset()]
    for asset in assets + [packaging.consumer_asset(consumer.name) for consumer in CONSUMERS]:
        assert "wrapt/__init__.py" in files(asset)


def test_every_asset_is_under_the_size_budget(tmp_path: Path) -> None:
    # The database driver, when the functions carry one, is the only large part of an asset.
    driver = set(packaging.lambda_requirements()) - set(packaging.lambda_requirements(database=False))
    budget = 12_000_000 if driver else 1_000_000
    assert zipped_size(packaging.step_asset(STEPS[0].name), tmp_path / "asset.zip") < budget
