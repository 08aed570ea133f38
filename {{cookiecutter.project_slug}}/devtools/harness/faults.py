"""What can go wrong in a saga run, offline, as AWS does it: the harness's fault kinds.

Step failures go through the business functions, so each one crosses the handler's real error
mapping on its way to the state machine:

- ``rejected``: the step raises a ``StepRejected`` subclass before doing anything;
- ``crash``: the step does its work, then raises ``RuntimeError``;
- ``timeout``: the step does its work, but its task times out before it answers;
- ``transient``: the first attempt raises a ``TransientError`` subclass, the retry succeeds.

A failing compensation raises on every attempt. The cloud's own behaviour, as ``--fault``:

- ``duplicate``: the saga is started a second time while the first execution runs, under another
  execution name (an Express start is never deduplicated by name);
- ``rerun``: once the execution has ended, it runs again under the same execution id (an
  asynchronous Express execution runs at least once);
- ``retried-invocation:STEP``: the step's first invocation keeps running while Lambda answers
  ``Lambda.SdkClientException`` and the state machine invokes it again;
- ``db-paused:SECONDS``: the database is paused when the saga starts and resumes once the state
  machine has waited SECONDS (the harness's clock advances by the retry waits);
- ``integration:dynamodb``, ``integration:events``, ``integration:sqs``: the saga table, the event
  bus or the dead-letter queue fails every call the state machine makes to it;
- ``store-unavailable:STEP``: the idempotency table fails the step's first invocation.
"""

from dataclasses import dataclass

from {{ cookiecutter.package_name }}.runtime.errors import StepRejected, TransientError

STEP_FAILURES = ("rejected", "timeout", "crash", "transient")
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
        if kind in ("duplicate", "rerun") and not argument:
            return cls(kind)
        if kind in ("retried-invocation", "store-unavailable") and argument in steps:
            return cls(kind, target=argument)
        if kind == "integration" and argument in SERVICES:
            return cls(kind, target=argument)
        if kind == "db-paused":
            try:
                return cls(kind, seconds=float(argument))
            except ValueError:
                pass
        raise ValueError(
            f"unknown fault {text!r}: expected duplicate, rerun, retried-invocation:STEP, store-unavailable:STEP, "
            f"db-paused:SECONDS or integration:SERVICE, with STEP one of {', '.join(steps)} "
            f"and SERVICE one of {', '.join(SERVICES)}"
        )
