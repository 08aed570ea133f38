{%- set saga = cookiecutter | saga_model -%}
"""The RDS Proxy access path, through pgbouncer in transaction pooling mode (the proxy's local stand-in)."""

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from devtools.local_database import LocalDatabase
from devtools.pgbouncer import PgBouncer
from {{ saga.package_name }} import handlers
from {{ saga.package_name }}.database import DatabaseNotReady, DatabaseUnavailable, execute, rds_proxy, transaction
from {{ saga.package_name }}.database.effects import EffectTable
from {{ saga.package_name }}.naming import MIGRATOR_ROLE
from {{ saga.package_name }}.runtime import aws
from {{ saga.package_name }}.saga import STEPS

STEP = STEPS[0].name
effects = EffectTable(STEP)
INSERT = f'INSERT INTO "{STEP}" (saga_id, state, data) VALUES (:saga_id, :state, :data)'  # noqa: S608


@pytest.fixture
def proxy(database: LocalDatabase) -> Iterator[PgBouncer]:
    """The pgbouncer in front of the test database, running again after the test whatever it did to it."""
    yield database.proxy
    if not database.proxy.running:
        database.proxy.start()


@pytest.fixture
def token_requests(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The IAM tokens the database layer signs: what for, and the token."""
    requests: list[dict[str, Any]] = []
    sign = rds_proxy.auth_token

    def recorded(host: str, port: int, user: str) -> str:
        token = sign(host, port, user)
        requests.append({"DBHostname": host, "Port": port, "DBUsername": user, "token": token})
        return token

    monkeypatch.setattr(rds_proxy, "auth_token", recorded)
    rds_proxy.close()
    return requests


def hold_a_server_connection(proxy: PgBouncer, release: threading.Event, held: threading.Event) -> None:
    """Another client keeps one transaction open, so the next clients get other server connections."""
    user = os.environ["DATABASE_USER"]
    with (
        psycopg.connect(host="127.0.0.1", port=proxy.port, dbname=proxy.database, user=user) as other,
        other.transaction(),
    ):
        other.execute("SELECT 1")
        held.set()
        release.wait(10)


def test_one_connection_per_environment_opened_with_one_iam_token(
    token_requests: list[dict[str, Any]], database: LocalDatabase
) -> None:
    for _ in range(3):
        assert execute("SELECT 1 AS one") == [{"one": 1}]
    assert len(token_requests) == 1
    assert token_requests[0]["DBUsername"] == os.environ["DATABASE_USER"] == MIGRATOR_ROLE
    connection = rds_proxy._state.connection
    execute("SELECT 1")
    assert rds_proxy._state.connection is connection
    assert token_requests[0]["token"].startswith(f"127.0.0.1:{database.proxy.port}/?Action=connect")


def test_the_iam_token_is_the_one_rds_signs() -> None:
    def query(token: str) -> dict[str, list[str]]:
        return parse_qs(urlsplit(f"https://{token}").query)

    rds = aws.client("rds")
    for _ in range(3):  # both signed within the same second, or try again
        ours = rds_proxy.auth_token("proxy.example", 5432, "saga user")
        theirs = rds.generate_db_auth_token(DBHostname="proxy.example", Port=5432, DBUsername="saga user")
        if query(ours)["X-Amz-Date"] == query(theirs)["X-Amz-Date"]:
            break
        time.sleep(0.1)
    assert ours.split("?")[0] == theirs.split("?")[0] == "proxy.example:5432/"
    assert query(ours) == query(theirs)


def test_tls_is_required_unless_disabled(proxy: PgBouncer, monkeypatch: pytest.MonkeyPatch) -> None:
    rds_proxy.close()
    monkeypatch.setenv("DATABASE_SSLMODE", "require")  # pgbouncer here speaks no TLS, unlike RDS Proxy
    with pytest.raises(DatabaseNotReady, match="does not accept TLS"):
        execute("SELECT 1")


def test_the_proxys_certificate_and_name_are_checked_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_SSLMODE")
    verified = rds_proxy.tls_context()
    assert verified is not None
    assert (verified.verify_mode, verified.check_hostname) == (ssl.CERT_REQUIRED, True)
    monkeypatch.setenv("DATABASE_SSLMODE", "require")
    encrypted = rds_proxy.tls_context()
    assert encrypted is not None
    assert (encrypted.verify_mode, encrypted.check_hostname) == (ssl.CERT_NONE, False)
    monkeypatch.setenv("DATABASE_SSLMODE", "prefer")
    with pytest.raises(ValueError, match="must be require, verify-full or disable"):
        rds_proxy.tls_context()


def test_a_server_that_accepts_and_never_answers_is_not_ready_once_the_deadline_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The kernel completes the TCP handshake for a listening socket; nothing ever reads from it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        monkeypatch.setenv("DATABASE_PORT", str(silent.getsockname()[1]))
        rds_proxy.close()
        started = time.monotonic()
        with pytest.raises(DatabaseNotReady, match="could not connect"):
            execute("SELECT 1")
    # Bounded by the deadline, not by the function's timeout (generous: only a hang would exceed it).
    assert time.monotonic() - started < rds_proxy.READY_TIMEOUT_SECONDS + 2


def test_a_transaction_the_proxy_cannot_start_in_time_is_not_ready_and_nothing_was_sent(proxy: PgBouncer) -> None:
    execute("SELECT 1")  # connected: only BEGIN is left to wait, as for a proxy with no free database connection
    release = threading.Event()
    holders = []
    for _ in range(proxy.pool_size):
        held = threading.Event()
        holder = threading.Thread(target=hold_a_server_connection, args=(proxy, release, held))
        holder.start()
        held.wait(10)
        holders.append(holder)
    try:
        with pytest.raises(DatabaseNotReady, match="could not start a transaction"):
            effects.record("saga-starved", {})
    finally:
        release.set()
        for holder in holders:
            holder.join()
    assert effects.find("saga-starved") is None
    assert effects.record("saga-fed", {}).state == "DONE"


def test_statements_keep_working_when_the_pool_hands_out_another_server_connection(proxy: PgBouncer) -> None:
    # A named prepared statement would be left on one server connection and missing on the next;
    # the unnamed one each parameterized statement uses lives inside its transaction.
    for round_number in range(3):
        for attempt in range(8):
            effects.record(f"saga-{round_number}-{attempt}", {"n": attempt})
        release, held = threading.Event(), threading.Event()
        other = threading.Thread(target=hold_a_server_connection, args=(proxy, release, held))
        other.start()
        held.wait(10)
        try:
            assert effects.find(f"saga-{round_number}-0") is not None
        finally:
            release.set()
            other.join()


def test_the_stand_in_is_honest_automatic_prepared_statements_do_break_through_it(proxy: PgBouncer) -> None:
    with psycopg.connect(
        host="127.0.0.1",
        port=proxy.port,
        dbname=proxy.database,
        user=os.environ["DATABASE_USER"],
        autocommit=True,
        prepare_threshold=0,
    ) as naive:
        naive.execute("SELECT 1 WHERE 1 = %s", (1,))
        release, held = threading.Event(), threading.Event()
        other = threading.Thread(target=hold_a_server_connection, args=(proxy, release, held))
        other.start()
        held.wait(10)
        try:
            with pytest.raises((psycopg.errors.InvalidSqlStatementName, psycopg.errors.DuplicatePreparedStatement)):
                naive.execute("SELECT 1 WHERE 1 = %s", (1,))
        finally:
            release.set()
            other.join()


def test_a_connection_the_proxy_dropped_while_idle_is_replaced_once(
    proxy: PgBouncer, token_requests: list[dict[str, Any]]
) -> None:
    effects.record("saga-before", {})
    proxy.kill()
    proxy.start()
    effect = effects.record("saga-after", {})
    assert effect.state == "DONE"
    assert len(token_requests) == 2


def test_a_database_that_cannot_be_reached_is_not_ready_and_nothing_was_sent(proxy: PgBouncer) -> None:
    effects.record("saga-before", {})
    proxy.kill()
    with pytest.raises(DatabaseNotReady, match="could not connect"):
        effects.record("saga-down", {})
    proxy.start()
    assert effects.find("saga-down") is None


def test_a_connection_lost_inside_a_transaction_writes_nothing(proxy: PgBouncer) -> None:
    def write_then_lose_the_connection() -> None:
        with transaction():
            execute(INSERT, {"saga_id": "half", "state": "DONE", "data": {}})
            proxy.kill()
            execute("SELECT 1")

    with pytest.raises(DatabaseUnavailable, match="rolled back"):
        write_then_lose_the_connection()
    proxy.start()
    assert effects.find("half") is None


def test_the_saga_waits_for_a_database_it_cannot_connect_to(
    proxy: PgBouncer, database: LocalDatabase, lambda_context: Any
) -> None:
    proxy.kill()
    with pytest.raises(DatabaseNotReady) as raised:
        handlers.step(STEP).handlers["action"]({"saga_id": "saga-outage", "payload": {}}, lambda_context)
    assert type(raised.value).__name__ == "DatabaseNotReady"
    proxy.start()
    assert database.effects("saga-outage")[STEP] is None
