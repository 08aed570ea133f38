"""Lambda assets built without Docker.

Each function's asset holds the package's shared runtime plus its own step or consumer
folder, nothing else. The project's runtime dependencies that neither the Lambda runtime
(boto3) nor the Powertools layer (Powertools, pydantic, the X-Ray SDK) provides are
installed from wheels built for the target platform into a cached folder; `make install`
downloads those wheels once, so synthesis works offline afterwards.
"""

import hashlib
import os
import re
import shutil
import subprocess  # runs pip with fixed arguments and the requirements of pyproject.toml
import sys
import tomllib
from pathlib import Path

from infra import config

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / config.PACKAGE
BUILD = ROOT / "build" / "lambda"
# Several projects (or CI jobs) can share one download folder through LAMBDA_WHEELHOUSE.
WHEELHOUSE = Path(os.environ.get("LAMBDA_WHEELHOUSE", ROOT / "build" / "wheelhouse"))
PROVIDED_IN_LAMBDA = {"aws-lambda-powertools", "boto3", "pydantic"}
# Shared by every function: the package marker and the runtime. Functions that use the
# database also get the database layer, its migrations and the vendored dependencies.
SHARED = ("__init__.py", "runtime")
DATABASE = "database"
# The Python 3.12 and 3.13 runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels fit.
PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def pip_platform_arguments() -> list[str]:
    platforms = [argument for tag in PLATFORMS[config.LAMBDA_ARCHITECTURE] for argument in ("--platform", tag)]
    return [
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        config.PYTHON_VERSION,
        "--only-binary=:all:",
    ]


def lambda_requirements() -> list[str]:
    """The runtime dependencies of pyproject.toml that the functions must carry themselves."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [
        requirement
        for requirement in dependencies
        if re.split(r"[\[=<>!~;\s]", requirement, maxsplit=1)[0].lower() not in PROVIDED_IN_LAMBDA
    ]


def download_wheels() -> None:
    """Fetch the target platform's wheels for the Lambda dependencies (needs the package index once)."""
    requirements = lambda_requirements()
    if requirements:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(WHEELHOUSE)]
        subprocess.run([*command, *pip_platform_arguments(), *requirements], check=True)  # noqa: S603


def dependencies() -> Path | None:
    """The Lambda dependencies installed for the target platform, or None when there are none."""
    requirements = lambda_requirements()
    if not requirements:
        return None
    digest = hashlib.sha256("\n".join([*requirements, *pip_platform_arguments()]).encode()).hexdigest()[:16]
    target = BUILD / f"dependencies-{digest}"
    if not target.is_dir():
        staging = target.with_suffix(".partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-compile"]
        command += ["--find-links", str(WHEELHOUSE), "--target", str(staging), *pip_platform_arguments()]
        subprocess.run([*command, *requirements], check=True)  # noqa: S603
        for metadata in staging.glob("*.dist-info"):
            shutil.rmtree(metadata)
        staging.rename(target)
    return target


def function_asset(*folder: str, with_database: bool = False) -> Path:
    """A folder with what one function imports: the shared code plus ``src/<package>/<folder...>``."""
    asset = BUILD / ("-".join(folder) or DATABASE)
    shutil.rmtree(asset, ignore_errors=True)
    package = asset / config.PACKAGE
    package.mkdir(parents=True)
    for shared in (*SHARED, DATABASE) if with_database else SHARED:
        source = SOURCE / shared
        if source.is_dir():
            shutil.copytree(source, package / shared, ignore=IGNORED)
        elif source.is_file():
            shutil.copy2(source, package / shared)
    if folder:
        shutil.copytree(SOURCE.joinpath(*folder), package.joinpath(*folder), ignore=IGNORED)
    vendored = dependencies() if with_database else None
    if vendored is not None:
        shutil.copytree(vendored, asset, dirs_exist_ok=True)
    return asset


if __name__ == "__main__":
    download_wheels()
