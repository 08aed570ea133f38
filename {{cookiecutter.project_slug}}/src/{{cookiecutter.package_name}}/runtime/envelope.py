"""What travels between the state machine, the handlers and the consumers, and its validation.

Checked by hand rather than with a model library: these few fields are all a handler must
trust before the business code runs, and a Lambda pays for every import at each cold start.
Business code may still validate its own ``payload`` with whatever it likes.

Sizes are bounded so that a saga's whole state, with every result, stays under the 256 KiB
Step Functions allows (past it the execution ends at once, uncaught, without compensating):
each result under ``MAX_RESULT_BYTES``, the saga's payload under ``max_payload_bytes()``.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from {{ cookiecutter.package_name }}.naming import (
    ALL_OUTCOMES,
    OUTCOME_STATUS,
    SAGA_ID_CHARACTERS,
    SAGA_ID_MAX_LENGTH,
    Step,
)
from {{ cookiecutter.package_name }}.runtime.errors import InvalidInput

SAGA_ID = re.compile(f"[{re.escape(SAGA_ID_CHARACTERS)}]+")
StepStatus = Literal["DONE", "COMPENSATED", "NOTHING_TO_UNDO"]
STEP_STATUSES: tuple[str, ...] = get_args(StepStatus)

STATE_LIMIT_BYTES = 256 * 1024
MAX_RESULT_BYTES = 8 * 1024
# The state's own keys, the failure notes, an execution ARN and the error of a failed dead letter.
STATE_OVERHEAD_BYTES = 8 * 1024
# A failure's Cause while the state holds it: the error's name, its message cut short by the handler and
# Lambda's stack trace of the handler's own frames, escaped twice (JSON in a JSON string).
MAX_CAUSE_BYTES = 8 * 1024


def max_payload_bytes(steps: tuple[Step, ...]) -> int:
    """The largest payload whose saga state still fits with every result at its largest."""
    results = sum(2 if step.compensation else 1 for step in steps)
    return STATE_LIMIT_BYTES - STATE_OVERHEAD_BYTES - MAX_CAUSE_BYTES - results * (MAX_RESULT_BYTES + 64)


def is_saga_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= SAGA_ID_MAX_LENGTH and SAGA_ID.fullmatch(value) is not None


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass(frozen=True)
class SagaRequest:
    """What starts a saga: the execution input, or the detail of a SagaRequested event."""

    saga_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any, max_payload: int, *, where: str = "saga request") -> "SagaRequest":
        fields = _fields(data, where, allowed={"saga_id", "payload"})
        payload = _object(fields, "payload", where, default={})
        _check_saga_id(fields, where)
        _check_size(payload, max_payload, where)
        return cls(fields["saga_id"], payload)

    def as_dict(self) -> dict[str, Any]:
        return {"saga_id": self.saga_id, "payload": self.payload}


@dataclass(frozen=True)
class StepRequest(SagaRequest):
    """What the state machine sends each step and each compensation."""

    results: dict[str, Any] = field(default_factory=dict)
    """Results of the steps that already ran, keyed by step name."""

    @classmethod
    def parse(cls, data: Any, max_payload: int, *, where: str = "step input") -> "StepRequest":
        fields = _fields(data, where, allowed={"saga_id", "payload", "results"})
        payload = _object(fields, "payload", where, default={})
        results = _object(fields, "results", where, default={})
        _check_saga_id(fields, where)
        _check_size(payload, max_payload, where)
        return cls(fields["saga_id"], payload, results)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "results": self.results}


@dataclass(frozen=True)
class StepResult:
    """What a step or a compensation returns; stored under the step's name in the saga state."""

    status: StepStatus
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STEP_STATUSES:
            raise ValueError(f"status must be one of {STEP_STATUSES}, not {self.status!r}")
        size = json_size(self.data)
        if size > MAX_RESULT_BYTES:
            raise ValueError(f"a step's result data must stay under {MAX_RESULT_BYTES} bytes, not {size}")

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "data": self.data}


@dataclass(frozen=True)
class SagaOutcome:
    """The detail of the outcome events the state machine publishes on the bus."""

    saga_id: str
    status: str
    failed_step: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class OutcomeEvent:
    """An outcome event as EventBridge delivers it to a consumer."""

    id: str
    detail_type: str
    source: str
    time: str
    detail: SagaOutcome
    resources: tuple[str, ...] = ()
    """Step Functions adds the ARNs of the execution that published the event and of its state machine."""

    def published_by(self, state_machine_arn: str) -> bool:
        """Whether an execution of this state machine published the event."""
        executions = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
        return any(resource.startswith(executions) for resource in self.resources)

    @classmethod
    def parse(cls, data: Any) -> "OutcomeEvent":
        where = "outcome event"
        fields = _fields(data, where, allowed=None)
        invalid = [name for name in ("id", "source", "time") if not isinstance(fields.get(name), str)]
        resources = fields.get("resources", [])
        if not isinstance(resources, list) or not all(isinstance(resource, str) for resource in resources):
            invalid.append("resources")
        detail_type = fields.get("detail-type")
        if detail_type not in ALL_OUTCOMES:
            invalid.append("detail-type")
        detail = fields.get("detail")
        if not isinstance(detail, dict):
            invalid.append("detail")
            detail = {}
        elif detail.get("status") != OUTCOME_STATUS.get(str(detail_type)):
            invalid.append("detail.status")
        if not is_saga_id(detail.get("saga_id")):
            invalid.append("detail.saga_id")
        invalid += [
            f"detail.{name}" for name in ("failed_step", "error") if not isinstance(detail.get(name), str | None)
        ]
        if invalid:
            raise InvalidInput(f"invalid {where}, check these fields: {', '.join(sorted(set(invalid)))}")
        outcome = SagaOutcome(detail["saga_id"], detail["status"], detail.get("failed_step"), detail.get("error"))
        return cls(fields["id"], str(detail_type), fields["source"], fields["time"], outcome, tuple(resources))


def _fields(data: Any, where: str, allowed: set[str] | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(f"invalid {where}, check these fields: (input)")
    unknown = sorted(set(data) - allowed) if allowed is not None else []
    if unknown:
        raise InvalidInput(f"invalid {where}, check these fields: {', '.join(unknown)} (not allowed)")
    return data


def _object(fields: dict[str, Any], name: str, where: str, default: dict[str, Any]) -> dict[str, Any]:
    value = fields.get(name, default)
    if not isinstance(value, dict):
        raise InvalidInput(f"invalid {where}, check these fields: {name}")
    return value


def _check_saga_id(fields: dict[str, Any], where: str) -> None:
    if not is_saga_id(fields.get("saga_id")):
        raise InvalidInput(f"invalid {where}, check these fields: saga_id")


def _check_size(payload: dict[str, Any], limit: int, where: str) -> None:
    size = json_size(payload)
    if size > limit:
        raise InvalidInput(f"invalid {where}: its payload has {size} bytes, more than the {limit} this saga can carry")
