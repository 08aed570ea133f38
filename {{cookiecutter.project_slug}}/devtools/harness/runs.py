"""What one execution did, read back from the offline account once it has ended."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    function: str
    role: str
    outcome: str
    saga_id: str


@dataclass
class SagaRun:
    saga_id: str
    status: str
    error: str | None
    output: dict[str, Any] | None
    invocations: list[Call]
    events: list[dict[str, Any]]
    dlq_messages: list[dict[str, Any]]
    history: Sequence[Mapping[str, Any]]
    record: dict[str, Any] | None
    consumer_deliveries: dict[str, list[str]]
    retry_delays: list[float]
    effects: dict[str, str | None]  # per step, its row for this saga in the database: DONE, COMPENSATED or None
    duplicate: "SagaRun | None" = None  # a second execution of the saga, started while this one ran
    rerun: "SagaRun | None" = None  # this execution run again under its own id, once it had ended

    @property
    def others(self) -> dict[str, "SagaRun"]:
        return {name: run for name, run in (("duplicate", self.duplicate), ("rerun", self.rerun)) if run}

    @property
    def calls(self) -> list[str]:
        return [call.function for call in self.invocations]

    @property
    def event_types(self) -> list[str]:
        return [event["detail-type"] for event in self.events]

    @property
    def states_entered(self) -> list[str]:
        return [entered["name"] for event in self.history if (entered := event.get("stateEnteredEventDetails"))]

    @property
    def state_transitions(self) -> int:
        """Billed state transitions (Standard workflows): every state entered, plus every retry."""
        kinds = Counter(event["type"] for event in self.history)
        return len(self.states_entered) + kinds["TaskScheduled"] - kinds["TaskStateEntered"]

    @property
    def largest_state_bytes(self) -> int:
        """The largest state any state entered with or left with: Step Functions stops an execution past 256 KiB."""
        sizes = [
            len(str(details.get("input") or details.get("output") or "").encode())
            for event in self.history
            for key in ("stateEnteredEventDetails", "stateExitedEventDetails")
            if (details := event.get(key))
        ]
        return max(sizes, default=0)
