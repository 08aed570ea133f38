"""The saga deployed once per test module in an offline AWS account, its services writing to a real PostgreSQL.

Tests share the deployment and tell their runs apart by saga id.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.database_ledger import DatabaseLedger
from devtools.local_database import LocalDatabase
from devtools.saga_harness import DEFINITION_FILE, EffectLedger, SagaHarness


@pytest.fixture(scope="module")
def harness(database_server: LocalDatabase) -> Iterator[SagaHarness]:
    database_server.reset()
    with SagaHarness(DatabaseLedger(database_server)) as deployed:
        yield deployed


@pytest.fixture
def aws(harness: SagaHarness) -> None:
    """Replaces the per-test account of the top-level conftest: these tests use the module's deployment."""


@pytest.fixture
def ledger(harness: SagaHarness) -> EffectLedger:
    assert harness.ledger is not None
    return harness.ledger


@pytest.fixture(scope="session")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))
    return loaded
