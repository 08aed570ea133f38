"""What can go wrong in a saga run, offline, as AWS does it.

A step's failure (``--fail STEP:KIND``) goes through its business function, and so through the
handler's real error mapping: ``rejected`` raises a ``StepRejected`` before any work; ``crash`` does
the work, then raises ``RuntimeError`` (``crash:BYTES``: with a message that long); ``timeout`` does
the work, then its task times out; ``transient`` raises a ``TransientError`` once. A failing
compensation raises on every attempt. The cloud's own behaviour (``--fault``):

- ``duplicate``: a second execution of the saga starts while the first runs (an Express start is
  never deduplicated by name);
- ``rerun``: the ended execution runs again under its own id (Express runs at least once);
- ``retried-invocation:STEP``: the step's first invocation runs on while Lambda answers
  ``Lambda.SdkClientException`` and the state machine invokes it again;
- ``db-paused:SECONDS``: the database pauses as the saga starts and resumes once the state machine
  has waited SECONDS (the harness's clock advances by the retry waits);
- ``integration:SERVICE``: the saga table, the event bus or the dead-letter queue fails every call;
- ``store-unavailable:STEP``: the idempotency table fails the step's first invocation.
"""

import re
from dataclasses import dataclass

from {{ cookiecutter.package_name }}.runtime.errors import StepRejected, TransientError

STEP_FAILURES = ("rejected", "timeout", "crash", "transient")
STEP_FAILURE = re.compile(r"rejected|timeout|transient|crash(:\d+)?")
FAULTS = ("duplicate", "rerun", "retried-invocation", "db-paused", "integration", "store-unavailable")
SERVICES = ("dynamodb", "events", "sqs")


class InjectedRejection(StepRejected):
    """The business "no" a ``rejected`` failure raises."""


class InjectedTransientFailure(TransientError):
    """The temporary failure a ``transient`` failure raises once."""


class InjectedCrash(RuntimeError):
    """The unexpected error a ``crash`` failure raises."""


class TaskTimedOut(TimeoutError):
    """Reported to the interpreter as the task's own timeout (``States.Timeout``)."""


@dataclass(frozen=True)
class Fault:
    """One of the cloud's behaviours to reproduce in a run."""

    kind: str
    target: str = ""
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str, steps: tuple[str, ...]) -> "Fault":
        """``KIND`` or ``KIND:ARGUMENT``, as ``--fault`` takes it; ValueError names what is wrong."""
        kind, _, argument = text.partition(":")
        targets = {"duplicate": ("",), "rerun": ("",), "integration": SERVICES}
        if argument in {**targets, "retried-invocation": steps, "store-unavailable": steps}.get(kind, ()):
            return cls(kind, target=argument)
        if kind == "db-paused" and re.fullmatch(r"\d+(\.\d+)?", argument):
            return cls(kind, seconds=float(argument))
        raise ValueError(
            f"unknown fault {text!r}: expected duplicate, rerun, retried-invocation:STEP, store-unavailable:STEP, "
            f"db-paused:SECONDS or integration:SERVICE, with STEP one of {', '.join(steps)} "
            f"and SERVICE one of {', '.join(SERVICES)}"
        )
