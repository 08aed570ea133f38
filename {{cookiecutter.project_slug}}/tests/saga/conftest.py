"""The saga deployed once per test module in an offline AWS account, with in-memory business effects.

Tests share the deployment and tell their runs apart by saga id.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.saga_harness import DEFINITION_FILE, EffectLedger, SagaHarness


@pytest.fixture(scope="module")
def harness() -> Iterator[SagaHarness]:
    with SagaHarness(EffectLedger()) as deployed:
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
