"""Every name the saga derives from its steps and consumers, written once.

The state machine definition, the infrastructure, the handlers, the offline harness, the
tests and the diagram all take their names from here: renaming a step means renaming it in
``saga.py`` and its own modules, nothing else.
"""

import string
from dataclasses import dataclass

PACKAGE = __name__.rpartition(".")[0]
# A saga id is also its Step Functions execution name: 1 to SAGA_ID_MAX_LENGTH of these characters.
SAGA_ID_CHARACTERS = string.ascii_letters + string.digits + "_-"
SAGA_ID_MAX_LENGTH = 80

# The outcome events the saga publishes, each with the status it records.
OUTCOME_STATUS = {
    "SagaSucceeded": "SUCCEEDED",
    "SagaFailed": "FAILED",
    "SagaCompensationFailed": "COMPENSATION_FAILED",
}
ALL_OUTCOMES = tuple(OUTCOME_STATUS)
# The source of every event the saga publishes; requests must come from a source under this prefix.
EVENT_SOURCE = f"{PACKAGE}.saga"
REQUEST_SOURCE_PREFIX = f"{PACKAGE}."
SAGA_REQUESTED = "SagaRequested"

# Error names Step Functions matches on: the class names of the exceptions the handlers raise.
INVALID_INPUT = "InvalidInput"
TRANSIENT_ERROR = "TransientError"
STEP_IN_PROGRESS = "StepInProgress"
IDEMPOTENCY_STORE_UNAVAILABLE = "IdempotencyStoreUnavailable"
DATABASE_NOT_READY = "DatabaseNotReady"

# The warning a handler logs when its logs, traces or metrics fail; a log metric filter counts it for an alarm.
OBSERVABILITY_FAILED = "Observability failed and was bypassed"

# Placeholders of the definition that the CDK app (and the offline harness) fill in.
SAGA_TABLE_PLACEHOLDER = "SagaTableName"
EVENT_BUS_PLACEHOLDER = "EventBusName"
DEAD_LETTER_QUEUE_PLACEHOLDER = "DeadLetterQueueUrl"

# The database role the migrations run as: it owns the tables and gives each step's role its grants.
MIGRATOR_ROLE = "saga_migrator"


def pascal(snake: str) -> str:
    """``refund_payment`` -> ``RefundPayment``."""
    return "".join(part.capitalize() for part in snake.split("_"))


def function_placeholder(title: str) -> str:
    """The definition's placeholder for a Lambda function's ARN, without ``${}``."""
    return f"{title}FunctionArn"


def step_key_prefix(step: str, role: str) -> str:
    """How the idempotency keys of a step's action or compensation start; its function may write no other."""
    return f"{step}.{role}"


def step_role(step: str) -> str:
    """The database role a step's functions log in as: it may use the step's own table, nothing else."""
    return f"saga_step_{step}"


def consumer_key_prefix(consumer: str) -> str:
    """How a consumer's idempotency keys start; its function may write no other."""
    return f"consumer.{consumer}"


def function_construct_id(title: str) -> str:
    """The CDK construct id of a step's or a compensation's function."""
    return f"{title}Function"


@dataclass(frozen=True)
class Step:
    """A saga step: its action and, when it can be undone, the compensation that undoes it.

    Its code is the module ``steps/<name>.py``: ``execute`` is the action and the
    compensation is the function of the compensation's name.
    """

    name: str
    compensation: str | None = None

    @property
    def title(self) -> str:
        """The action's state name in the definition and its function's construct id prefix."""
        return pascal(self.name)

    @property
    def rejection_error(self) -> str:
        """The error name a definitive business "no" of this step reaches Step Functions as."""
        return f"{self.title}Rejected"

    @property
    def rejected_state(self) -> str:
        return f"{self.title} rejected"

    @property
    def failed_state(self) -> str:
        return f"{self.title} failed"

    @property
    def module(self) -> str:
        return f"{PACKAGE}.steps.{self.name}"

    @property
    def compensation_title(self) -> str:
        """The compensation's state name; only for a step that has one."""
        return pascal(self._compensation)

    @property
    def compensation_failed_state(self) -> str:
        return f"{self.compensation_title} failed"

    @property
    def functions(self) -> dict[str, str]:
        """Role (``action``, ``compensation``) -> the title its function is named after."""
        titles = {"action": self.title}
        if self.compensation:
            titles["compensation"] = self.compensation_title
        return titles

    @property
    def _compensation(self) -> str:
        if self.compensation is None:
            raise ValueError(f"step {self.name!r} has no compensation")
        return self.compensation


@dataclass(frozen=True)
class Consumer:
    """An EventBridge consumer of the saga's outcome events; its code is ``consumers/<name>.py``."""

    name: str
    receives: tuple[str, ...] = ALL_OUTCOMES

    def __post_init__(self) -> None:
        unknown = set(self.receives) - set(ALL_OUTCOMES)
        if unknown or not self.receives:
            raise ValueError(f"consumer {self.name!r} must receive some of {ALL_OUTCOMES}, not {sorted(unknown)}")

    @property
    def title(self) -> str:
        return pascal(self.name)

    @property
    def module(self) -> str:
        return f"{PACKAGE}.consumers.{self.name}"

    @property
    def event_pattern(self) -> dict[str, list[str]]:
        """The EventBridge rule pattern that routes this consumer's outcome events to it."""
        return {"source": [EVENT_SOURCE], "detail-type": list(self.receives)}
