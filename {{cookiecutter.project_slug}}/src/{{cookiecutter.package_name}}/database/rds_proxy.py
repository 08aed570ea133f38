"""Aurora PostgreSQL through RDS Proxy: one connection per execution environment.

Environment:

- ``DATABASE_HOST``: the proxy endpoint; ``DATABASE_PORT`` (default 5432);
- ``DATABASE_NAME`` and ``DATABASE_USER``: the database, and the user the function's
  IAM role may connect as (``rds-db:connect``);
- ``DATABASE_SSLMODE``: ``require`` unless set; only local tests against a
  server without TLS set it to ``disable``.

The connection opens on first use and is reused by the next invocations of the same
execution environment; the proxy multiplexes all of them onto a small pool of
database connections. It authenticates with an IAM token from
``generate_db_auth_token`` (signed locally, valid 15 minutes, only needed to open a
connection), so no password is stored anywhere.

Nothing here pins a client to one database connection, which would defeat the
proxy: no ``SET``, no temporary tables or advisory locks, and psycopg's automatic
server-side prepared statements are off (``prepare_threshold=None``).

Every unit of work is one explicit transaction. A connection the proxy closed while
the environment was idle fails at ``BEGIN``, before anything was sent: it is
replaced once and the transaction starts again. When no connection can be opened
(the cluster is resuming, failing over, or out of reach) nothing was sent either:
``DatabaseNotReady``, which the state machine waits out. A connection that dies
later rolls the transaction back on the server and raises ``DatabaseUnavailable``.
"""

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from {{ cookiecutter.package_name }}.database.errors import DatabaseError, DatabaseNotReady, DatabaseUnavailable

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

CONNECT_TIMEOUT_SECONDS = 5
# ``:name`` becomes psycopg's ``%(name)s``; ``::type`` casts are left alone.
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

# Per thread, which in Lambda is per execution environment.
_state = threading.local()


def execute(sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement with ``:name`` parameters; return its rows (empty for a statement without rows)."""
    query = _NAMED_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
    values = {name: _adapt(value) for name, value in (params or {}).items()}
    with transaction():
        connection: psycopg.Connection[dict[str, Any]] = _state.connection
        try:
            cursor = connection.execute(query, values)
            return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError as error:
            close()
            raise DatabaseUnavailable(f"the connection died; the transaction was rolled back: {error}") from error
        except psycopg.Error as error:
            raise DatabaseError(f"{type(error).__name__}: {error}") from error


@contextmanager
def transaction() -> Iterator[None]:
    """Statements inside commit together or not at all. Nested uses join the outer transaction."""
    if getattr(_state, "in_transaction", False):
        yield
        return
    connection = _begin()
    _state.in_transaction = True
    try:
        yield
    except BaseException:
        _state.in_transaction = False
        _end(connection, "ROLLBACK")
        raise
    _state.in_transaction = False
    _end(connection, "COMMIT")


def close() -> None:
    """Close this execution environment's connection, if open."""
    connection = getattr(_state, "connection", None)
    _state.connection = None
    if connection is not None:
        connection.close()


def _begin() -> psycopg.Connection[dict[str, Any]]:
    for attempt in (1, 2):
        connection = getattr(_state, "connection", None)
        if connection is None or connection.closed:
            connection = _state.connection = _connect()
        try:
            connection.execute("BEGIN")
        except psycopg.OperationalError as error:
            # Nothing was sent before BEGIN: replacing the connection and starting again is safe.
            close()
            if attempt == 2:
                raise DatabaseNotReady(f"could not start a transaction: {error}") from error
            continue
        return connection
    raise AssertionError("unreachable")


def _end(connection: psycopg.Connection[dict[str, Any]], command: str) -> None:
    try:
        connection.execute(command)
    except psycopg.OperationalError as error:
        close()
        if command == "ROLLBACK":
            return  # The connection is gone, and with it the transaction.
        raise DatabaseUnavailable(f"the connection died during {command}; the outcome is unknown: {error}") from error


def _connect() -> psycopg.Connection[dict[str, Any]]:
    host, user = os.environ["DATABASE_HOST"], os.environ["DATABASE_USER"]
    port = int(os.environ.get("DATABASE_PORT", "5432"))
    token = _rds().generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
    try:
        return psycopg.connect(
            host=host,
            port=port,
            dbname=os.environ["DATABASE_NAME"],
            user=user,
            password=token,
            sslmode=os.environ.get("DATABASE_SSLMODE", "require"),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
            prepare_threshold=None,
            row_factory=dict_row,
        )
    except psycopg.OperationalError as error:
        raise DatabaseNotReady(f"could not connect to {host}:{port}: {error}") from error


_rds_client: "RDSClient | None" = None
_rds_lock = threading.Lock()


def _rds() -> "RDSClient":
    global _rds_client  # noqa: PLW0603
    with _rds_lock:
        if _rds_client is None:
            _rds_client = boto3.session.Session().client("rds")
        return _rds_client


def _adapt(value: Any) -> Any:
    if isinstance(value, dict | list):
        return Jsonb(value)
    return value
