"""Payload models shared by the state machine, the handlers and the consumers."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# A saga id is also the Step Functions execution name: at most 80 characters from this set.
SagaId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]

# The "source" of every event the saga publishes, and the detail-type that asks for a new saga.
EVENT_SOURCE = "{{ cookiecutter.package_name }}.saga"
SAGA_REQUESTED = "SagaRequested"

OutcomeDetailType = Literal["SagaSucceeded", "SagaFailed", "SagaCompensationFailed"]


def outcome_event_pattern(detail_types: tuple[OutcomeDetailType, ...]) -> dict[str, list[str]]:
    """The EventBridge rule pattern that matches these outcome events of this saga."""
    return {"source": [EVENT_SOURCE], "detail-type": list(detail_types)}


class SagaRequest(BaseModel):
    """What starts a saga: the execution input, or the detail of a SagaRequested event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    saga_id: SagaId
    payload: dict[str, Any] = Field(default_factory=dict)


class StepRequest(SagaRequest):
    """What the state machine sends each step and each compensation."""

    results: dict[str, Any] = Field(default_factory=dict)
    """Results of the steps that already ran, keyed by step name."""


class StepResult(BaseModel):
    """What a step or a compensation returns; stored under the step's name in the saga state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["DONE", "COMPENSATED", "NOTHING_TO_UNDO"]
    data: dict[str, Any] = Field(default_factory=dict)


class SagaOutcome(BaseModel):
    """The detail of the outcome events the state machine publishes on the bus."""

    model_config = ConfigDict(frozen=True)

    saga_id: SagaId
    status: Literal["SUCCEEDED", "FAILED", "COMPENSATION_FAILED"]
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None


def invalid_fields(error: ValidationError) -> str:
    """The dotted paths of the fields that failed validation, without their values (they may be PII)."""
    return ", ".join(".".join(map(str, issue["loc"])) or "(input)" for issue in error.errors())
