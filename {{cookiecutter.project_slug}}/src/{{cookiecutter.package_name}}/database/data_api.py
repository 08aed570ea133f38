"""Aurora PostgreSQL through the RDS Data API: HTTPS requests, no connection to manage.

Environment:

- ``DATABASE_CLUSTER_ARN``: the Aurora cluster (its Data API must be enabled);
- ``DATABASE_SECRET_ARN``: the Secrets Manager secret holding the database credentials;
- ``DATABASE_NAME``: the database in that cluster.

Parameters are sent typed (``longValue``, ``stringValue``...; dictionaries and lists
as JSON), rows come back with ``formatRecordsAs="JSON"``. ``transaction()`` maps to
``begin_transaction`` / ``commit_transaction`` / ``rollback_transaction``. The
client is created on first use, so importing this module costs nothing at cold start.
"""

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from botocore import exceptions as botocore_errors

from {{ cookiecutter.package_name }}.database.errors import DatabaseError, DatabaseNotReady, DatabaseUnavailable
from {{ cookiecutter.package_name }}.runtime import aws
from {{ cookiecutter.package_name }}.runtime.errors import TransientError

if TYPE_CHECKING:
    from mypy_boto3_rds_data import RDSDataServiceClient
    from mypy_boto3_rds_data.type_defs import SqlParameterTypeDef

# A cluster paused at its minimum capacity of 0 answers the first until it has resumed, one whose writer is
# being replaced the second: nothing was committed, and the step is waited for, not compensated.
NOT_READY = frozenset({"DatabaseResumingException", "DatabaseUnavailableException"})
THROTTLED = "ThrottlingException"
UNAVAILABLE = frozenset({"ServiceUnavailableError", "InternalServerErrorException"})

_state = threading.local()


def client() -> "RDSDataServiceClient":
    """The ``rds-data`` client of this execution environment, created on first use."""
    rds_data: RDSDataServiceClient = aws.client("rds-data")
    return rds_data


def execute(sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement with ``:name`` parameters; return its rows (empty for a statement without rows)."""
    request: dict[str, Any] = {
        "resourceArn": os.environ["DATABASE_CLUSTER_ARN"],
        "secretArn": os.environ["DATABASE_SECRET_ARN"],
        "database": os.environ["DATABASE_NAME"],
        "sql": sql,
        "parameters": [_parameter(name, value) for name, value in (params or {}).items()],
        "formatRecordsAs": "JSON",
    }
    transaction_id = getattr(_state, "transaction_id", None)
    if transaction_id is not None:
        request["transactionId"] = transaction_id
    response = _call("execute_statement", request)
    rows: list[dict[str, Any]] = json.loads(response.get("formattedRecords") or "[]")
    return rows


@contextmanager
def transaction() -> Iterator[None]:
    """Statements inside commit together or not at all. Nested uses join the outer transaction."""
    if getattr(_state, "transaction_id", None) is not None:
        yield
        return
    target = {
        "resourceArn": os.environ["DATABASE_CLUSTER_ARN"],
        "secretArn": os.environ["DATABASE_SECRET_ARN"],
    }
    transaction_id = _call("begin_transaction", {**target, "database": os.environ["DATABASE_NAME"]})["transactionId"]
    _state.transaction_id = transaction_id
    try:
        yield
    except BaseException:
        _state.transaction_id = None
        # If the rollback cannot be sent either, the Data API rolls the transaction back when it expires.
        with suppress(DatabaseError):
            _call("rollback_transaction", {**target, "transactionId": transaction_id})
        raise
    _state.transaction_id = None
    _call("commit_transaction", {**target, "transactionId": transaction_id})


def _parameter(name: str, value: Any) -> "SqlParameterTypeDef":
    if value is None:
        return {"name": name, "value": {"isNull": True}}
    if isinstance(value, bool):
        return {"name": name, "value": {"booleanValue": value}}
    if isinstance(value, int):
        return {"name": name, "value": {"longValue": value}}
    if isinstance(value, float):
        return {"name": name, "value": {"doubleValue": value}}
    if isinstance(value, str):
        return {"name": name, "value": {"stringValue": value}}
    if isinstance(value, dict | list):
        return {"name": name, "value": {"stringValue": json.dumps(value)}, "typeHint": "JSON"}
    raise TypeError(f"parameter {name!r}: unsupported type {type(value).__name__}")


def _call(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    try:
        response: dict[str, Any] = getattr(client(), operation)(**request)
    except botocore_errors.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code in NOT_READY:
            raise DatabaseNotReady(f"Data API {operation}: the database is not ready ({code}): {message}") from error
        if code == THROTTLED:
            raise TransientError(f"Data API {operation} was throttled, retry: {message}") from error
        if code in UNAVAILABLE:
            raise DatabaseUnavailable(f"Data API {operation} failed, database unavailable: {message}") from error
        raise DatabaseError(f"Data API {operation} failed ({code}): {message}") from error
    except (botocore_errors.ConnectionError, botocore_errors.HTTPClientError) as error:
        raise DatabaseUnavailable(f"Data API {operation} could not be sent: {error}") from error
    return response
