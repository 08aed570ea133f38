"""Shared fixtures: an offline AWS (moto), a Lambda context, and the structured output of a handler."""

import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Set before any handler module is imported: they read these at import time, like Lambda does.
os.environ.update(
    AWS_DEFAULT_REGION="{{ cookiecutter | saga_model | attr('aws_region') }}",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    IDEMPOTENCY_TABLE_NAME="idempotency",
    POWERTOOLS_SERVICE_NAME="{{ cookiecutter.project_slug }}",
    POWERTOOLS_TRACE_DISABLED="true",
)

import boto3
import pytest
from moto import mock_aws

from devtools.local_database import LocalDatabase
from devtools.local_postgres import postgres_server
from {{ cookiecutter.package_name }}.runtime.observability import logger


@pytest.fixture(scope="session")
def dynamodb() -> Any:
    """One client for the whole session: creating a boto3 client costs more than a whole test."""
    return boto3.client("dynamodb")


@pytest.fixture(autouse=True)
def aws(dynamodb: Any) -> Iterator[None]:
    """A fresh offline AWS account per test, with the idempotency table the handlers use."""
    with mock_aws():
        dynamodb.create_table(
            TableName=os.environ["IDEMPOTENCY_TABLE_NAME"],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield


@pytest.fixture(scope="session")
def database_server() -> Iterator[LocalDatabase]:
    """A real PostgreSQL with the migrations applied, reached the way the deployed functions reach Aurora.

    One database per test worker: a throwaway server, or the one ``SAGA_DATABASE_URL`` names.
    """
    name = f"saga_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with postgres_server() as server:
        with LocalDatabase(server.create_database(name)) as database:
            database.migrate()
            yield database
        server.drop_database(name)


@pytest.fixture
def database(database_server: LocalDatabase) -> LocalDatabase:
    """The test database with every service table emptied."""
    database_server.reset()
    return database_server


@dataclass
class FakeLambdaContext:
    function_name: str = "saga-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:saga-function"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@dataclass
class HandlerOutput:
    logs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return json.dumps(self.logs + self.metrics)

    def metric_names(self) -> set[str]:
        return {
            metric["Name"]
            for record in self.metrics
            for directive in record["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
        }


@pytest.fixture
def handler_output(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Call it after invoking a handler: returns the JSON log lines and metric blobs written so far."""
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
