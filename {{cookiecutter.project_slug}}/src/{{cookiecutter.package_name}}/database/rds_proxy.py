"""Aurora PostgreSQL through RDS Proxy: one connection per execution environment.

Environment:

- ``DATABASE_HOST``: the proxy endpoint; ``DATABASE_PORT`` (default 5432);
- ``DATABASE_NAME`` and ``DATABASE_USER``: the database, and the user the function's
  IAM role may connect as (``rds-db:connect``);
- ``DATABASE_SSLMODE``: ``verify-full`` unless set: TLS, with the proxy's certificate
  (issued by Amazon's public authority) checked against the system's authorities and its
  host name; ``require`` encrypts without checking, as libpq means it; only local tests
  against a server without TLS set it to ``disable``.

The connection opens on first use and is reused by the next invocations of the same
execution environment; the proxy multiplexes all of them onto a small pool of
database connections. It authenticates with an IAM token, the one
``generate_db_auth_token`` returns (signed locally, valid 15 minutes, only needed to
open a connection), so no password is stored anywhere.

Nothing here pins a client to one database connection, which would defeat the
proxy: no ``SET``, no temporary tables or advisory locks, no named prepared
statements. pg8000 sends a statement with parameters as an unnamed one (parse,
then bind and execute); every statement runs inside an explicit transaction,
during which the proxy keeps the client on one database connection.

Every unit of work is one explicit transaction. A connection the proxy closed while
the environment was idle fails at ``BEGIN``, before anything was sent: it is
replaced once and the transaction starts again. Getting a transaction started
(connecting, TLS, the IAM login and ``BEGIN``, both attempts together) may take
``READY_TIMEOUT_SECONDS``: within a VPC it takes milliseconds, and the shortest
function timeout is 3 seconds. When it cannot be done in time (the cluster is failing
over or out of reach, or the proxy waits for a free database connection) nothing
was sent either: ``DatabaseNotReady``, which the state machine waits out, where a
function timeout would have counted as the step's failure. A connection that dies
later rolls the transaction back on the server and raises ``DatabaseUnavailable``.

The driver is pg8000, pure Python: one small wheel for every architecture, imported
in a fraction of the time a compiled driver takes at each cold start.
"""

import json
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

import pg8000.native  # type: ignore[import-untyped]
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest

from {{ cookiecutter.package_name }}.database.errors import DatabaseError, DatabaseNotReady, DatabaseUnavailable
from {{ cookiecutter.package_name }}.runtime import aws

READY_TIMEOUT_SECONDS = 1.5
AUTH_TOKEN_SECONDS = 900
# PostgreSQL's request to switch to TLS before the startup message: length 8, code 80877103.
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
# The connection is gone: the socket failed, or the server ended the session (08: connection exception,
# 57P: operator intervention, such as a shutdown).
LOST_CONNECTION_CODES = ("08", "57P")
# What pg8000 raises: its own errors, and the socket's when a read fails at once.
DRIVER_ERRORS = (pg8000.native.Error, OSError)

# Per thread, which in Lambda is per execution environment.
_state = threading.local()


def execute(sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement with ``:name`` parameters; return its rows (empty for a statement without rows)."""
    values = {name: _adapt(value) for name, value in (params or {}).items()}
    with transaction():
        connection: pg8000.native.Connection = _state.connection
        try:
            rows = connection.run(sql, **values)
        except DRIVER_ERRORS as error:
            if _lost(error):
                close()
                raise DatabaseUnavailable(f"the connection died; the transaction was rolled back: {error}") from error
            raise DatabaseError(_message(error)) from error
        if not connection.columns:
            return []
        names = [column["name"] for column in connection.columns]
        return [dict(zip(names, row, strict=True)) for row in rows]


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
    _state.connection = _state.socket = None
    if connection is not None:
        with suppress(*DRIVER_ERRORS):  # already gone
            connection.close()


def _begin() -> pg8000.native.Connection:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for attempt in (1, 2):
        connection = getattr(_state, "connection", None)
        if connection is None:
            connection = _state.connection = _connect(deadline)
        try:
            _state.socket.settimeout(_time_left(deadline))
            connection.run("BEGIN")
        except DRIVER_ERRORS as error:
            if not _lost(error):
                raise DatabaseError(_message(error)) from error
            # Nothing was sent before BEGIN: replacing the connection and starting again is safe.
            close()
            if attempt == 2 or time.monotonic() >= deadline:
                raise DatabaseNotReady(f"could not start a transaction: {error}") from error
            continue
        # The deadline bounds getting a transaction started, as libpq's connect_timeout bounds connecting;
        # a statement may take as long as the function has.
        _state.socket.settimeout(None)
        return connection
    raise AssertionError("unreachable")


def _end(connection: pg8000.native.Connection, command: str) -> None:
    try:
        connection.run(command)
    except DRIVER_ERRORS as error:
        close()
        if command == "ROLLBACK":
            return  # The connection is gone, and with it the transaction.
        raise DatabaseUnavailable(f"the connection died during {command}; the outcome is unknown: {error}") from error


def _connect(deadline: float) -> pg8000.native.Connection:
    host, user = os.environ["DATABASE_HOST"], os.environ["DATABASE_USER"]
    port = int(os.environ.get("DATABASE_PORT", "5432"))
    try:
        sock = _socket(host, port, _time_left(deadline))
    except OSError as error:
        raise DatabaseNotReady(f"could not connect to {host}:{port}: {error}") from error
    try:
        connection = pg8000.native.Connection(
            user,
            sock=sock,
            ssl_context=False,  # TLS, when asked for, is already up on the socket
            database=os.environ["DATABASE_NAME"],
            password=auth_token(host, port, user),
        )
    except DRIVER_ERRORS as error:
        sock.close()
        raise DatabaseNotReady(f"could not connect to {host}:{port}: {error}") from error
    _state.socket = sock
    return connection


def _time_left(deadline: float) -> float:
    """Seconds until the deadline, for a socket timeout; none left means the database is not ready."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"no transaction started within {READY_TIMEOUT_SECONDS} s")
    return left


def _socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connected socket, with TLS up as ``DATABASE_SSLMODE`` asks."""
    context = tls_context()
    sock = socket.create_connection((host, port), timeout=timeout)
    if context is None:
        return sock
    try:
        sock.sendall(SSL_REQUEST)
        if sock.recv(1) != b"S":
            raise OSError("the server does not accept TLS, which DATABASE_SSLMODE requires")
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def tls_context() -> ssl.SSLContext | None:
    """TLS as ``DATABASE_SSLMODE`` asks, in libpq's terms: ``verify-full`` (the default) checks the certificate
    and the host name, ``require`` only encrypts, ``disable`` (local tests only) does neither."""
    sslmode = os.environ.get("DATABASE_SSLMODE", "verify-full")
    if sslmode not in ("require", "verify-full", "disable"):
        raise ValueError(f"DATABASE_SSLMODE must be require, verify-full or disable, not {sslmode!r}")
    if sslmode == "disable":
        return None
    context = ssl.create_default_context()
    if sslmode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def auth_token(host: str, port: int, user: str) -> str:
    """The IAM token ``rds.generate_db_auth_token`` returns, signed here with the session's credentials:
    a presigned ``connect`` request, valid 15 minutes, needed only to open a connection."""
    session = aws.session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the database's IAM token with")
    request = AWSRequest(method="GET", url=f"https://{host}:{port}/?Action=connect&DBUser={quote(user, safe='')}")
    signer = SigV4QueryAuth(credentials.get_frozen_credentials(), "rds-db", session.region_name, AUTH_TOKEN_SECONDS)
    signer.add_auth(request)
    return str(request.url).removeprefix("https://")


def _lost(error: Exception) -> bool:
    if isinstance(error, pg8000.native.InterfaceError | OSError):
        return True
    return _field(error, "C").startswith(LOST_CONNECTION_CODES)


def _message(error: Exception) -> str:
    """The server's error as psql shows it: ``ERROR: relation "x" does not exist (42P01)``."""
    if not _field(error, "M"):
        return f"{type(error).__name__}: {error}"
    return f"{_field(error, 'S') or 'ERROR'}: {_field(error, 'M')} ({_field(error, 'C')})"


def _field(error: Exception, key: str) -> str:
    """One field of a server error: pg8000 gives them as a dict of PostgreSQL's one-letter field codes."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return str(fields.get(key, ""))


def _adapt(value: Any) -> Any:
    # Sent as text of no declared type: the server reads it as the json or jsonb its column expects.
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value
