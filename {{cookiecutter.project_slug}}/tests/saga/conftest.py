"""The saga deployed once per test module in an offline AWS account, its steps writing to a real PostgreSQL.

Tests share the deployment and tell their runs apart by saga id.
"""

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from infra.definition import DEFINITION_FILE

if TYPE_CHECKING:
    from devtools.harness.runner import SagaHarness
    from devtools.local_database import LocalDatabase


@pytest.fixture(scope="module")
def harness(database_server: "LocalDatabase") -> Iterator["SagaHarness"]:
    from devtools.harness.runner import SagaHarness  # noqa: PLC0415 - imports the handlers

    database_server.reset()
    with SagaHarness(database_server) as deployed:
        yield deployed


@pytest.fixture
def aws(harness: "SagaHarness") -> None:
    """Replaces the per-test account of the top-level conftest: these tests use the module's deployment."""


@pytest.fixture(scope="session")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))
    return loaded
