"""Rendered projects, the interpreter that stands in for Lambda's, and moto's server.

Everything listens on 127.0.0.1 and stops with the benchmark.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from cookiecutter.main import cookiecutter  # type: ignore[import-untyped]

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
BUILD = TEMPLATE_ROOT / "build" / "bench"
LAMBDA_PYTHONS = ("3.13", "3.12")
# What Lambda's Python runtime (boto3) and the Powertools layer (Powertools, the X-Ray SDK) provide.
PROVIDED_IN_LAMBDA = ("aws-lambda-powertools", "boto3")
START_TIMEOUT_SECONDS = 60


def host_architecture() -> str:
    """The answer for ``lambda_architecture`` whose wheels run here."""
    return "arm64" if platform.machine().lower() in {"aarch64", "arm64"} else "x86_64"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python_version(python: str) -> str | None:
    """``3.13`` for a Python 3.13 that runs, None for a missing or broken one (a pyenv shim of another version)."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@dataclass(frozen=True)
class Runtime:
    """The interpreter measured as Lambda's: a Lambda Python version with only what Lambda provides installed."""

    python: str
    version: str
    note: str

    @property
    def bin_dir(self) -> str:
        return str(Path(self.python).parent)


def lambda_runtime(requested: str | None) -> Runtime:
    """A virtual environment of ``requested`` (or the first ``python3.13``/``python3.12`` that runs) holding boto3
    and Powertools as pinned for the generated projects; this interpreter when there is no such Python."""
    candidates = [requested] if requested else [f"python{version}" for version in LAMBDA_PYTHONS]
    for candidate in candidates:
        found = shutil.which(candidate) or candidate
        version = python_version(found)
        if version in LAMBDA_PYTHONS:
            return Runtime(str(_runtime_environment(found, version)), version, f"a venv of {found}")
        if requested:
            raise SystemExit(f"--python {requested}: not a Python of {LAMBDA_PYTHONS} that runs")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    note = (
        f"no Python of {LAMBDA_PYTHONS} found (give one with --python): measured with this Python {version}, whose "
        "environment also holds the development packages; the assets' .pyc files, compiled for the target, go unused"
    )
    return Runtime(sys.executable, version, note)


def _runtime_environment(python: str, version: str) -> Path:
    requirements = provided_requirements()
    folder = BUILD / f"lambda-python{version}"
    marker = folder / "requirements.txt"
    interpreter = folder / "bin" / "python"
    if not (
        interpreter.exists() and marker.is_file() and marker.read_text(encoding="utf-8") == "\n".join(requirements)
    ):
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(interpreter), "-m", "pip", "install", "--quiet", *requirements], check=True)
        marker.write_text("\n".join(requirements), encoding="utf-8")
    return interpreter


def provided_requirements() -> list[str]:
    """The generated projects' pins of what Lambda provides, read from the template's own pyproject."""
    text = (TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    if dependencies is None:
        raise ValueError("the generated pyproject.toml has no dependencies list")
    pinned = re.findall(r'"([^"{}]+)"', dependencies.group(1))
    return [item for item in pinned if re.split(r"[\[=]", item, maxsplit=1)[0] in PROVIDED_IN_LAMBDA]


def render(answers: dict[str, str], output_dir: Path) -> tuple[Path, float]:
    """Render one project; return its folder and the seconds it took (hooks included)."""
    shutil.rmtree(output_dir, ignore_errors=True)
    output_dir.mkdir(parents=True)
    started = time.perf_counter()
    project = cookiecutter(str(TEMPLATE_ROOT), no_input=True, output_dir=str(output_dir), extra_context=answers)
    return Path(project), time.perf_counter() - started


@dataclass
class Project:
    """A rendered project, its Lambda wheels downloaded; commands run in it with its code importable."""

    folder: Path
    runtime: Runtime
    description: dict[str, Any] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.folder), str(self.folder / "src"), str(TEMPLATE_ROOT)]),
            # infra.packaging compiles the assets with the python of the target version it finds first.
            "PATH": os.pathsep.join([self.runtime.bin_dir, os.environ.get("PATH", "")]),
        }

    def run(self, command: list[str], *, check: bool = True, **options: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=self.folder, env=self.environment(), text=True, check=check, **options)

    def prepare(self) -> None:
        """Download the target platform's wheels of the Lambda dependencies, as ``make install`` does."""
        self.run([sys.executable, "-m", "infra.packaging"])
        self.description = self.call("describe")

    def call(self, command: str, *arguments: str) -> Any:
        """``bench.inproject`` in this project; returns the JSON it prints last."""
        result = self.run([sys.executable, "-m", "bench.inproject", command, *arguments], stdout=subprocess.PIPE)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start(self, command: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.inproject", command],
            cwd=self.folder,
            env=self.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )


class LocalServices:
    """``bench.inproject services`` running: PostgreSQL, migrated, behind the Data API front or pgbouncer."""

    def __init__(self, project: Project) -> None:
        self.process = project.start("services")
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError("the local database did not start; see the lines above")
        self.environment: dict[str, str] = json.loads(line)

    def __enter__(self) -> LocalServices:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=START_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class MotoServer:
    """moto's standalone server on a free loopback port, with the tables and state machine the functions use."""

    IDEMPOTENCY_TABLE = "idempotency"
    SAGA_TABLE = "sagas"

    def __init__(self, region: str) -> None:
        self.region = region
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (BUILD / f"moto-{self.port}.log").open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"moto's server did not start; see {self.log.name}") from None
                time.sleep(0.1)
        self.state_machine_arn = self._deploy()

    def client(self, service: str) -> Any:
        import boto3

        client: Any = boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        return client

    def _deploy(self) -> str:
        dynamodb = self.client("dynamodb")
        for table, key in ((self.IDEMPOTENCY_TABLE, "id"), (self.SAGA_TABLE, "saga_id")):
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        # The starter only starts executions: moto records them without running the definition.
        created = self.client("stepfunctions").create_state_machine(
            name="saga",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/saga",
        )
        arn: str = created["stateMachineArn"]
        return arn

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def zipped_size(folder: Path) -> int:
    """The size of ``folder`` zipped as the CDK zips an asset (deflate)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return len(buffer.getvalue())
