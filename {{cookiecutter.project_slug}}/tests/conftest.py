"""Shared fixtures: an offline AWS (moto), a real PostgreSQL, a Lambda context, and the handlers' output."""

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from devtools.harness.account import IDEMPOTENCY_TABLE, LAMBDA_ENVIRONMENT, LambdaContext
from devtools.prerequisites import missing
from infra.config import PROJECT, REGION
from {{ cookiecutter.package_name }}.naming import OBSERVABILITY_FAILED

if TYPE_CHECKING:
    from devtools.local_database import LocalDatabase


def pytest_configure(config: pytest.Config) -> None:
    """Lambda's environment, before any handler module is imported: they read it when imported, as in Lambda."""
    os.environ.update({**LAMBDA_ENVIRONMENT, "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_SERVICE_NAME": PROJECT})
    # Node 20 still synthesizes correctly; keep jsii's end-of-life banner out of the test output.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    # The Powertools logger writes to the stdout it was created with: create it on the session's,
    # not on the capture of whichever test imports it first, which is closed when that test ends.
    import {{ cookiecutter.package_name }}.runtime.observability  # noqa: F401, PLC0415

    if not hasattr(config, "workerinput") and (absent := missing("test")):
        raise pytest.UsageError("\n".join(absent))


@pytest.fixture(scope="session")
def dynamodb() -> Any:
    """One client for the whole session: creating a boto3 client costs more than a whole test."""
    return boto3.client("dynamodb")


@pytest.fixture(autouse=True)
def aws(dynamodb: Any) -> Iterator[None]:
    """A fresh offline AWS account per test, with the idempotency table the handlers use."""
    with mock_aws():
        dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield


@pytest.fixture(scope="session")
def database_server() -> Iterator["LocalDatabase"]:
    """A real PostgreSQL with the migrations applied, reached the way the deployed functions reach Aurora.

    One database per test worker: a throwaway server, or the one ``SAGA_DATABASE_URL`` names.
    """
    # Imported here: the database layer imports the handlers' runtime, which reads the environment.
    from devtools.local_database import LocalDatabase  # noqa: PLC0415
    from devtools.local_postgres import postgres_server  # noqa: PLC0415

    name = f"saga_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with postgres_server() as server:
        with LocalDatabase(server.create_database(name)) as database:
            database.migrate()
            yield database
        server.drop_database(name)


@pytest.fixture
def database(database_server: "LocalDatabase") -> "LocalDatabase":
    """The test database with every step's table emptied."""
    database_server.reset()
    return database_server


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(function_name="saga-function", region=REGION)


@pytest.fixture(params=["no-namespace", "flush-raises"])
def broken_metrics(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The handlers' metrics fail once the work is done: the namespace is missing, or the flush raises."""
    from {{ cookiecutter.package_name }}.runtime.observability import metrics  # noqa: PLC0415 - after pytest_configure

    def flush_fails(**_: Any) -> None:
        raise ValueError("the metrics could not be flushed")

    if request.param == "no-namespace":
        monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    else:
        monkeypatch.setattr(metrics.provider, "flush_metrics", flush_fails)
    return str(request.param)


@dataclass
class HandlerOutput:
    logs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return json.dumps(self.logs + self.metrics)

    def lost(self) -> list[str]:
        """The metrics each ``OBSERVABILITY_FAILED`` warning says were not published."""
        failed = [line for line in self.logs if line["message"] == OBSERVABILITY_FAILED]
        assert all(line["level"] == "WARNING" for line in failed)
        return [name for line in failed for name in line["unpublished_metrics"]]

    def metric_names(self) -> set[str]:
        return {
            metric["Name"]
            for record in self.metrics
            for directive in record["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
        }


@pytest.fixture
def handler_output(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], HandlerOutput]]:
    """Call it after invoking a handler: returns the JSON log lines and metric blobs written so far."""
    from {{ cookiecutter.package_name }}.runtime.observability import logger  # noqa: PLC0415 - after pytest_configure

    # The logger keeps the stream it was created with; metrics print to the current stdout.
    log_stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_stream = handler.setStream(log_stream)

    def read() -> HandlerOutput:
        metric_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return HandlerOutput(
            logs=[json.loads(line) for line in log_stream.getvalue().splitlines()],
            metrics=[json.loads(line) for line in metric_lines if "_aws" in line],
        )

    yield read
    handler.setStream(previous_stream)
