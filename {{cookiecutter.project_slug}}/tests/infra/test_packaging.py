"""Lambda assets: built without Docker, each holding only what its function imports."""

import zipfile
from pathlib import Path

from infra import config, packaging


def zipped_size(folder: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, path.relative_to(folder))
    return archive.stat().st_size


def test_a_step_asset_holds_the_shared_runtime_and_its_own_step_only(tmp_path: Path) -> None:
    step = config.STEPS[0]
    asset = packaging.function_asset("services", step.name, with_database=True)
    package = asset / config.PACKAGE
    assert (package / "runtime" / "step.py").is_file()
    assert (package / "services" / step.name / "handler.py").is_file()
    assert sorted(path.name for path in (package / "services").iterdir()) == [step.name]
    assert not (package / "consumers").exists()
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("test_*.py"))


def test_assets_are_rebuilt_identically(tmp_path: Path) -> None:
    step = config.STEPS[-1]
    first = {
        path.relative_to(packaging.BUILD).as_posix(): path.read_bytes()
        for path in packaging.function_asset("services", step.name, with_database=True).rglob("*")
        if path.is_file()
    }
    second = {
        path.relative_to(packaging.BUILD).as_posix(): path.read_bytes()
        for path in packaging.function_asset("services", step.name, with_database=True).rglob("*")
        if path.is_file()
    }
    assert first == second


def test_powertools_boto3_and_pydantic_come_from_lambda_not_from_the_asset() -> None:
    names = [requirement.split("[")[0].split("=")[0] for requirement in packaging.lambda_requirements()]
    assert not set(names) & packaging.PROVIDED_IN_LAMBDA
    asset = packaging.function_asset("services", config.STEPS[0].name, with_database=True)
    assert not (asset / "aws_lambda_powertools").exists()
    assert not (asset / "pydantic").exists()


def test_functions_without_the_database_carry_neither_its_code_nor_its_driver() -> None:
    for consumer in config.CONSUMERS:
        asset = packaging.function_asset("consumers", consumer)
        assert sorted(path.name for path in asset.iterdir()) == [config.PACKAGE]
        assert not (asset / config.PACKAGE / packaging.DATABASE).exists()


def test_every_asset_is_under_the_size_budget(tmp_path: Path) -> None:
    # Vendored dependencies (psycopg's binary wheel with libpq) are the only large part of an asset.
    budget = 1_000_000 if not packaging.lambda_requirements() else 12_000_000
    asset = packaging.function_asset("services", config.STEPS[0].name, with_database=True)
    assert zipped_size(asset, tmp_path / "asset.zip") < budget
