"""The RDS Data API (``rds-data``) emulated in-process on a real PostgreSQL.

``DataApiEmulator(...).attach(client)`` answers a boto3 client's ``rds-data`` and ``GetSecretValue`` calls
after botocore has validated them, before anything is signed or sent. Emulated: ``ExecuteStatement`` with
``:name`` parameters (null, boolean, long, double and string values, ``typeHint`` JSON; an untyped string is
bound as ``varchar``, as the real API does), results as ``formatRecordsAs="JSON"`` (what is not a number,
boolean or null as a string); transactions, each on its own connection; logging in as the secret's user;
``BadRequestException`` for SQL errors, refused logins and an unknown cluster, database or transaction;
``DatabaseUnavailableException`` for an unreachable server; ``DatabaseResumingException`` while ``paused``.
Not emulated: IAM, the other operations, typed ``records``, other type hints and parameter types, the size,
time and idle limits, pausing by itself, latency and throttling.
"""

import datetime
import json
import queue
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from botocore import xform_name
from botocore.awsrequest import AWSResponse, HTTPHeaders
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

APPLICATION_NAME = "rds-data-emulator"
EVENT = "before-call"
OPERATIONS = ("ExecuteStatement", "BeginTransaction", "CommitTransaction", "RollbackTransaction", "GetSecretValue")
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
Connection = psycopg.Connection[dict[str, Any]]
CONNECTION_SETTINGS: dict[str, Any] = {"autocommit": True, "application_name": APPLICATION_NAME, "connect_timeout": 5}

# The emulators attached, in order: the last one answers, the others let it.
_attached: list["DataApiEmulator"] = []


class DataApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class DataApiEmulator:
    """Serves ``rds-data`` calls for one cluster and the database of ``database_url``, and its ``secrets``
    (each secret's ARN: ``{"username": ..., "password": ...}``)."""

    def __init__(self, database_url: str, cluster_arn: str, secrets: Mapping[str, dict[str, str]], pool_size: int = 10):
        self.database_url, self.cluster_arn, self.secrets = database_url, cluster_arn, secrets
        self.database, self.pool_size = database_url.rsplit("/", 1)[1], pool_size
        # Per secret, one slot per connection its pool may open: the connection, or None until (again) opened.
        self._pools: dict[str, queue.LifoQueue[Connection | None]] = {}
        self._transactions: dict[str, tuple[str, Connection]] = {}
        self._lock = threading.Lock()
        self.paused = False  # an Aurora paused at zero capacity: every request but GetSecretValue is refused
        self.close()

    def attach(self, client: Any) -> None:
        """Answer the client's calls instead of the emulator attached before, until this one detaches."""
        _attached.append(self)
        client.meta.events.register(EVENT, self._intercept)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister(EVENT, self._intercept)
        if self in _attached:
            _attached.remove(self)

    def close(self) -> None:
        """Close every connection; the next request opens new ones."""
        with self._lock:
            lent, self._transactions = [connection for _, connection in self._transactions.values()], {}
            pools, self._pools = self._pools, {secret: queue.LifoQueue() for secret in self.secrets}
            for pool in self._pools.values():
                for _ in range(self.pool_size):
                    pool.put(None)
        idle = [pool.get_nowait() for pool in pools.values() for _ in range(pool.qsize())]
        for connection in filter(None, [*lent, *idle]):
            connection.close()

    def _intercept(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if _attached[-1] is not self:
            return None
        if model.name not in OPERATIONS:
            raise NotImplementedError(f"the local Data API does not emulate {model.name}")
        try:
            if self.paused and model.name != "GetSecretValue":
                raise DataApiError("DatabaseResumingException", "The database is resuming after being auto-paused")
            body, status = getattr(self, xform_name(model.name))(json.loads(params["body"] or b"{}")), 200
        except DataApiError as error:
            body = {"Error": {"Code": error.code, "Message": str(error)}, "message": str(error)}
            status = error.status
        body["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
        return AWSResponse("https://rds-data.local", status, HTTPHeaders(), None), body

    def get_secret_value(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["SecretId"] not in self.secrets:
            raise DataApiError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        return {"ARN": request["SecretId"], "SecretString": json.dumps(self.secrets[request["SecretId"]])}

    def execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        secret = self._check_target(request)
        transaction_id = request.get("transactionId")
        values = {item["name"]: self._value(item) for item in request.get("parameters", [])}
        # An untyped string is bound as varchar; a missing value is reported when the statement runs.
        cast = {name: "::varchar" if isinstance(value, str) else "" for name, value in values.items()}
        sql = request["sql"].replace("%", "%%")
        query = _NAMED_PARAMETER.sub(lambda name: f"%({name[1]})s{cast.get(name[1], '')}", sql)
        if transaction_id is not None:
            return self._run(self._transaction(transaction_id, secret), query, values)
        connection = self._acquire(secret)
        try:
            return self._run(connection, query, values)
        finally:
            self._release(secret, connection)

    def begin_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        secret = self._check_target(request)
        connection = self._acquire(secret)
        try:
            connection.execute("BEGIN")
        except psycopg.Error as error:
            self._release(secret, connection)
            raise _translate(error) from error
        transaction_id = uuid.uuid4().hex
        with self._lock:
            self._transactions[transaction_id] = (secret, connection)
        return {"transactionId": transaction_id}

    def commit_transaction(self, request: dict[str, Any]) -> dict[str, str]:
        return self._end(request, "COMMIT", "Transaction Committed")

    def rollback_transaction(self, request: dict[str, Any]) -> dict[str, str]:
        return self._end(request, "ROLLBACK", "Rollback Complete")

    def _end(self, request: dict[str, Any], command: str, status: str) -> dict[str, str]:
        secret = self._check_target(request)
        connection = self._transaction(request["transactionId"], secret)
        with self._lock:
            del self._transactions[request["transactionId"]]
        try:
            connection.execute(command)
        except psycopg.Error as error:
            raise _translate(error) from error
        finally:
            self._release(secret, connection)
        return {"transactionStatus": status}

    def _check_target(self, request: dict[str, Any]) -> str:
        if request.get("resourceArn") != self.cluster_arn:
            raise DataApiError("BadRequestException", f"Cluster {request.get('resourceArn')} not found")
        if request.get("database", self.database) != self.database:
            raise DataApiError("BadRequestException", f'FATAL: database "{request["database"]}" does not exist')
        if request["secretArn"] not in self.secrets:
            raise DataApiError("BadRequestException", "The secret does not give access to this cluster")
        return str(request["secretArn"])

    def _transaction(self, transaction_id: str, secret: str) -> Connection:
        with self._lock:
            owner, connection = self._transactions.get(transaction_id, (None, None))
        if connection is None or owner != secret:
            raise DataApiError("BadRequestException", f"Transaction {transaction_id} is not found")
        return connection

    def _acquire(self, secret: str) -> Connection:
        pool = self._pools[secret]
        connection = pool.get()  # waits while every connection is lent
        if connection is not None:
            return connection
        login: dict[str, Any] = {"user": self.secrets[secret]["username"], "password": self.secrets[secret]["password"]}
        try:
            return psycopg.connect(self.database_url, row_factory=dict_row, **login, **CONNECTION_SETTINGS)
        except psycopg.OperationalError as error:
            pool.put(None)
            raise _translate(error) from error

    def _release(self, secret: str, connection: Connection) -> None:
        reusable = not connection.closed and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if not reusable:
            connection.close()
        self._pools[secret].put(connection if reusable else None)

    @staticmethod
    def _value(parameter: dict[str, Any]) -> Any:
        ((kind, value),) = (parameter.get("value") or {"no value": None}).items()  # botocore allows one in a field
        hint = parameter.get("typeHint")
        if kind in ("isNull", "booleanValue", "longValue", "doubleValue") or (kind == "stringValue" and not hint):
            return None if kind == "isNull" else value
        if kind == "stringValue" and hint == "JSON":
            try:
                return Jsonb(json.loads(value))
            except ValueError as error:
                raise DataApiError("BadRequestException", f"invalid JSON parameter {parameter['name']}") from error
        raise DataApiError("BadRequestException", f"parameter {parameter.get('name')}: this value type is not emulated")

    @staticmethod
    def _run(connection: Connection, query: str, values: dict[str, Any]) -> dict[str, Any]:
        try:
            cursor = connection.execute(query, values, prepare=False)
            rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as error:
            raise _translate(error) from error
        except KeyError as error:
            raise DataApiError("BadRequestException", f"No value specified for parameter {error}") from error
        return {
            "numberOfRecordsUpdated": 0 if cursor.description else max(cursor.rowcount, 0),
            "formattedRecords": json.dumps([{key: _json_value(v) for key, v in row.items()} for row in rows]),
        }


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _translate(error: psycopg.Error) -> DataApiError:
    # 28: the login was refused (wrong password, no such user), which the Data API reports as a bad request.
    if isinstance(error, psycopg.OperationalError) and not str(error.sqlstate).startswith("28"):
        return DataApiError("DatabaseUnavailableException", f"The database is unavailable: {error}", 504)
    return DataApiError("BadRequestException", f"ERROR: {error}")
