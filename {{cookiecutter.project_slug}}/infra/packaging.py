"""Lambda assets built without Docker.

Each function's asset holds the package's shared runtime plus its own step or consumer
folder, nothing else. The project's runtime dependencies that neither the Lambda runtime
(boto3) nor the Powertools layer (Powertools, pydantic, the X-Ray SDK) provides, or that must
come before the layer's copy, are installed from wheels built for the target platform into a
cached folder; `make install` downloads those wheels once, so synthesis works offline afterwards.

Lambda cannot write bytecode next to the code it runs, so an asset without ``.pyc`` files has its
modules compiled again at every cold start. Assets carry them, compiled by a Python of the target
version when there is one (this one, or the ``python3.X`` on the PATH), checked against nothing
(``unchecked-hash``) since deployed files never change; without one, assets carry the sources only.
"""

import functools
import hashlib
import os
import re
import shutil
import subprocess  # runs pip with fixed arguments and the requirements of pyproject.toml
import sys
import tomllib
from pathlib import Path

from infra import config
from {{ cookiecutter.package_name }}.naming import PACKAGE

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / PACKAGE
BUILD = ROOT / "build" / "lambda"
# Several projects (or CI jobs) can share one download folder through LAMBDA_WHEELHOUSE.
WHEELHOUSE = Path(os.environ.get("LAMBDA_WHEELHOUSE", ROOT / "build" / "wheelhouse"))
PROVIDED_IN_LAMBDA = {"aws-lambda-powertools", "boto3", "pydantic"}
# Vendored into every function, ahead of the layer's copy: wrapt 1.x, which the X-Ray SDK imports at each cold
# start, where the layer's 2.x would also import asyncio. The other dependencies (the database driver) go only
# to the functions that use the database.
EVERY_FUNCTION = {"wrapt"}
# Shared by every function: the package marker, the saga's shape and names, the entry points and
# the runtime. Functions that use the database also get the database layer, its migrations and
# its vendored dependencies.
SHARED = ("__init__.py", "naming.py", "saga.py", "handlers.py", "runtime")
DATABASE = "database"
# The Python 3.12 and 3.13 runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels fit.
PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}
# Where Lambda puts the code: the path tracebacks show for compiled modules.
TASK_ROOT = "/var/task"


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


def lambda_requirements(*, database: bool = True) -> list[str]:
    """The runtime dependencies of pyproject.toml that the functions carry; without ``database``, every function's."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [
        requirement
        for requirement in dependencies
        if (name := re.split(r"[\[=<>!~;\s]", requirement, maxsplit=1)[0].lower()) not in PROVIDED_IN_LAMBDA
        and (database or name in EVERY_FUNCTION)
    ]


def download_wheels() -> None:
    """Fetch the target platform's wheels for the Lambda dependencies (needs the package index once)."""
    requirements = lambda_requirements()
    if requirements:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(WHEELHOUSE)]
        subprocess.run([*command, *pip_platform_arguments(), *requirements], check=True)  # noqa: S603


def dependencies(*, database: bool = True) -> Path | None:
    """The Lambda dependencies installed for the target platform, or None when there are none."""
    requirements = lambda_requirements(database=database)
    if not requirements:
        return None
    recipe = [*requirements, *pip_platform_arguments(), f"compiled: {target_python() is not None}"]
    digest = hashlib.sha256("\n".join(recipe).encode()).hexdigest()[:16]
    target = BUILD / f"dependencies-{digest}"
    if not target.is_dir():
        staging = target.with_suffix(f".{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-compile"]
        command += ["--find-links", str(WHEELHOUSE), "--target", str(staging), *pip_platform_arguments()]
        subprocess.run([*command, *requirements], check=True)  # noqa: S603
        # The *.dist-info folders stay: some packages read their own version from them when imported.
        compile_modules(staging)
        try:
            staging.rename(target)
        except OSError:  # another process installed them first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def step_asset(step: str) -> str:
    """What a step's action and compensation import: the shared code, its module and the database layer."""
    return str(_asset(f"step-{step}", "steps/__init__.py", f"steps/{step}.py", DATABASE, database=True))


def consumer_asset(consumer: str) -> str:
    return str(_asset(f"consumer-{consumer}", "consumers/__init__.py", f"consumers/{consumer}.py"))


def starter_asset() -> str:
    return str(_asset("starter", "starter.py"))


def migrations_asset() -> str:
    return str(_asset("migrations", DATABASE, database=True))


def _asset(name: str, *own: str, database: bool = False) -> Path:
    """A folder with the shared code, the package's files and folders ``own``, and the vendored dependencies
    (the database's too for a function that uses it).

    Named after its content, so that an unchanged function keeps its folder, and two synthesizing
    processes never write into the same one.
    """
    sources = sorted(
        (path.relative_to(SOURCE).as_posix(), path)
        for relative in (*SHARED, *own)
        for path in ([SOURCE / relative] if (SOURCE / relative).is_file() else (SOURCE / relative).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    vendored = dependencies(database=database)
    digest = hashlib.sha256(f"{vendored}\0compiled: {target_python() is not None}".encode())
    for relative, path in sources:
        digest.update(relative.encode() + b"\0" + path.read_bytes())
    asset = BUILD / f"{name}-{digest.hexdigest()[:16]}"
    if asset.is_dir():
        return asset
    staging = BUILD / f".{asset.name}.{os.getpid()}"
    for relative, path in sources:
        (staging / PACKAGE / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, staging / PACKAGE / relative)
    compile_modules(staging)
    if vendored is not None:
        shutil.copytree(vendored, staging, dirs_exist_ok=True)
    try:
        staging.rename(asset)
    except OSError:  # another process built the same asset first
        shutil.rmtree(staging, ignore_errors=True)
    return asset


@functools.cache
def target_python() -> str | None:
    """A Python of the functions' version to compile their modules with, or None when there is none here."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == config.PYTHON_VERSION:
        return sys.executable
    found = shutil.which(f"python{config.PYTHON_VERSION}")
    if found is not None:
        # A pyenv shim, say, may stand for a version that is not installed.
        check = [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        answer = subprocess.run(check, capture_output=True, text=True, check=False)  # noqa: S603
        if answer.returncode == 0 and answer.stdout.strip() == config.PYTHON_VERSION:
            return found
    print(
        f"python{config.PYTHON_VERSION} not found: the Lambda assets carry no .pyc files, and every cold start "
        "compiles the modules it imports",
        file=sys.stderr,
    )
    return None


def compile_modules(folder: Path) -> None:
    """Add the target version's ``.pyc`` next to every module of ``folder``, when there is a Python to compile with."""
    python = target_python()
    if python is None:
        return
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, "-s", str(folder), "-p", TASK_ROOT, str(folder)], check=True)  # noqa: S603


if __name__ == "__main__":
    download_wheels()
