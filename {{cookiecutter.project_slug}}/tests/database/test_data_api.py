{%- set saga = cookiecutter | saga_model -%}
"""The Data API access path, through the local emulation of ``rds-data`` running on a real PostgreSQL."""

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.data_api_emulator import APPLICATION_NAME
from devtools.local_database import LocalDatabase
from devtools.local_postgres import free_port
from {{ saga.package_name }} import handlers
from {{ saga.package_name }}.database import (
    DatabaseError,
    DatabaseNotReady,
    execute,
    transaction,
)
from {{ saga.package_name }}.database.effects import EffectTable
from {{ saga.package_name }}.saga import STEPS

STEP = STEPS[0].name
effects = EffectTable(STEP)
INSERT = f'INSERT INTO "{STEP}" (saga_id, state, data) VALUES (:saga_id, :state, :data)'  # noqa: S608


@pytest.fixture
def unreachable(database: LocalDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Data API answers, but the database behind it cannot be reached."""
    database.emulator.close()
    monkeypatch.setattr(database.emulator, "database_url", f"postgresql://saga@127.0.0.1:{free_port()}/saga")
    yield
    database.emulator.close()


def test_typed_parameters_and_json_records_round_trip(database: LocalDatabase) -> None:
    rows = execute(
        "SELECT :text AS text, :number AS number, :ratio AS ratio, :flag AS flag, :nothing AS nothing, :doc AS doc",
        {"text": "a'b", "number": 7, "ratio": 0.5, "flag": True, "nothing": None, "doc": {"k": [1, "x"]}},
    )
    assert rows == [{"text": "a'b", "number": 7, "ratio": 0.5, "flag": True, "nothing": None, "doc": '{"k": [1, "x"]}'}]


def test_an_untyped_string_is_not_silently_cast_like_the_real_api(database: LocalDatabase) -> None:
    with pytest.raises(DatabaseError, match="BadRequestException"):
        execute("SELECT 1 WHERE 1 = :number", {"number": "1"})


def test_a_transaction_commits_whole_or_not_at_all(database: LocalDatabase) -> None:
    def write_then_fail() -> None:
        with transaction():
            execute(INSERT, {"saga_id": "half", "state": "DONE", "data": {}})
            execute("INSERT INTO missing_table VALUES (1)")

    with pytest.raises(DatabaseError, match="missing_table"):
        write_then_fail()
    assert effects.find("half") is None
    with transaction():
        execute(INSERT, {"saga_id": "whole", "state": "DONE", "data": {}})
    assert database.effects("whole")[STEP] == "DONE"


def test_the_handlers_open_no_database_connection(database: LocalDatabase) -> None:
    effects.record("saga-1", {})
    assert set(database.server_connections()) <= {APPLICATION_NAME}


def test_a_database_being_replaced_is_waited_for_like_one_resuming(unreachable: None) -> None:
    with pytest.raises(DatabaseNotReady, match="DatabaseUnavailableException"):
        effects.record("saga-down", {})


def test_the_saga_waits_out_a_writer_outage_instead_of_compensating(
    unreachable: None, database: LocalDatabase, lambda_context: Any
) -> None:
    with pytest.raises(DatabaseNotReady) as raised:
        handlers.step(STEP).handlers["action"]({"saga_id": "saga-outage", "payload": {}}, lambda_context)
    assert type(raised.value).__name__ == "DatabaseNotReady"
    assert database.effects("saga-outage")[STEP] is None


def test_a_paused_cluster_answers_resuming_until_it_has_resumed(database: LocalDatabase) -> None:
    database.pause()
    try:
        with pytest.raises(DatabaseNotReady, match="resuming"):
            execute("SELECT 1")
    finally:
        database.resume()
    assert execute("SELECT 1 AS one") == [{"one": 1}]
