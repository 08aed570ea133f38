"""What one saga costs in AWS, counted from real offline executions of every path.

Each path (the happy path, every step failing every way, every compensation failing) runs
once through ``SagaHarness``: the real definition in moto's interpreter, the real handlers.
Its state transitions and Lambda invocations are read back from the execution history, then
priced with the constants below, the only place prices are written down.
"""

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from devtools.local_run import quiet_handlers
from devtools.saga_harness import KINDS, EffectLedger, SagaHarness
from infra.config import LAMBDA_ARCHITECTURE, LAMBDA_MEMORY_MB, STEPS

WorkflowType = Literal["STANDARD", "EXPRESS"]

# AWS list prices for us-east-1 in US dollars, as known on PRICES_AS_OF, without free tiers
# or volume tiers. Check https://aws.amazon.com/step-functions/pricing/ and
# https://aws.amazon.com/lambda/pricing/ before relying on them.
PRICES_AS_OF = "2026-11-28"
STANDARD_PER_STATE_TRANSITION = 0.025 / 1_000
EXPRESS_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_PER_GB_SECOND = 0.00001667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}

# Assumptions, not measurements: each Lambda invocation bills this long, and an Express
# execution lasts as long as its invocations one after the other (rounded up to 100 ms),
# using the smallest memory chunk Express bills (64 MB).
ASSUMED_INVOCATION_SECONDS = 0.1
EXPRESS_MEMORY_GB = 64 / 1024


@dataclass(frozen=True)
class Path:
    """One way a saga can go: the failures injected into it."""

    name: str
    failures: Mapping[str, str]
    failing_compensations: Collection[str] = ()


@dataclass(frozen=True)
class PathCost:
    path: str
    status: str
    state_transitions: int
    invocations: int

    def lambda_price(self) -> float:
        gb_seconds = self.invocations * LAMBDA_MEMORY_MB / 1024 * ASSUMED_INVOCATION_SECONDS
        return self.invocations * LAMBDA_PER_REQUEST + gb_seconds * LAMBDA_PER_GB_SECOND[LAMBDA_ARCHITECTURE]

    def workflow_price(self, workflow_type: WorkflowType) -> float:
        if workflow_type == "STANDARD":
            return self.state_transitions * STANDARD_PER_STATE_TRANSITION
        tenths = -(-round(self.invocations * ASSUMED_INVOCATION_SECONDS * 1000) // 100)
        seconds = max(tenths, 1) / 10
        return EXPRESS_PER_REQUEST + seconds * EXPRESS_MEMORY_GB * EXPRESS_PER_GB_SECOND

    def per_million(self, workflow_type: WorkflowType) -> float:
        """Dollars per million sagas that take this path: the workflow plus its Lambda functions."""
        return (self.workflow_price(workflow_type) + self.lambda_price()) * 1_000_000


def paths() -> list[Path]:
    """The happy path, each step failing each way, and each compensation failing after the last step crashed."""
    compensations = [str(step.compensation) for step in STEPS if step.compensation]
    return [
        Path("happy path", {}),
        *(Path(f"{step.name} {kind}", {step.name: kind}) for step in STEPS for kind in KINDS),
        *(Path(f"{STEPS[-1].name} crash, {name} fails", {STEPS[-1].name: "crash"}, {name}) for name in compensations),
    ]


def measure(harness: SagaHarness) -> list[PathCost]:
    """Run every path once in ``harness`` and count what it did."""
    costs = []
    for path in paths():
        saga_input = {"saga_id": f"cost-{uuid.uuid4().hex[:12]}", "payload": {}}
        run = harness.run(saga_input, failures=path.failures, fail_compensations=path.failing_compensations)
        costs.append(PathCost(path.name, run.status, run.state_transitions, len(run.invocations)))
    return costs


def measure_offline() -> list[PathCost]:
    """Every path in a fresh offline deployment whose business functions only record their effects."""
    with quiet_handlers(), SagaHarness(EffectLedger()) as harness:
        return measure(harness)
