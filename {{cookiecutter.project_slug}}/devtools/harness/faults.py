"""What can go wrong in a saga run, offline, as AWS does it.

A step's failure (``--fail STEP:KIND``) goes through its business function and the handler's error mapping:
``rejected`` before any work; ``crash`` after it (``crash:BYTES``, with a message that long); ``timeout`` after
it, the task timing out; ``transient`` once. A failing compensation fails every time. The cloud's behaviour
(``--fault``): ``duplicate``, a second execution while the first runs; ``rerun``, the ended execution again
under its own id; ``retried-invocation:STEP``, Lambda answers ``SdkClientException`` while the first invocation
runs on; ``db-paused:SECONDS``, until the state machine has waited that long; ``integration:SERVICE``, the saga
table, bus or dead-letter queue fails; ``store-unavailable:STEP``, the idempotency table fails the step's first
invocation.
"""

import re
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field

from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.runtime.errors import StepRejected, TransientError

STEP_FAILURES = ("rejected", "timeout", "crash", "transient")
STEP_FAILURE = re.compile(r"rejected|timeout|transient|crash(:\d+)?")
FAULTS = ("duplicate", "rerun", "retried-invocation", "db-paused", "integration", "store-unavailable")
SERVICES = ("dynamodb", "events", "sqs")


# What the ``rejected``, ``transient`` and ``crash`` failures raise.
class InjectedRejection(StepRejected): ...


class InjectedTransientFailure(TransientError): ...


class InjectedCrash(RuntimeError): ...


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
            f"db-paused:SECONDS or integration:SERVICE; STEP in {', '.join(steps)}, SERVICE in {', '.join(SERVICES)}"
        )


@dataclass
class Injection:
    """What one saga's run injects: step failures (step name: kind), failing compensations, the cloud's faults;
    a ValueError names the first that is not this saga's. A fault that acts once is taken when it acts."""

    failures: dict[str, str] = field(default_factory=dict)
    failing_compensations: Collection[str] = ()
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        steps = {step.name: step.compensation for step in saga.STEPS}
        wrong = [f"--fail {step}:{kind}" for step, kind in self.failures.items() if not STEP_FAILURE.fullmatch(kind)]
        wrong += [f"--fail {step}" for step in self.failures if step not in steps]
        wrong += [f"--fail-compensation {name}" for name in self.failing_compensations if name not in steps.values()]
        if wrong:
            compensations = ", ".join(filter(None, steps.values())) or "none"
            raise ValueError(
                f"{wrong[0]}: steps {', '.join(steps)}; failures {', '.join(STEP_FAILURES)} or crash:BYTES; "
                f"compensations {compensations}"
            )

    def has(self, kind: str, target: str = "") -> bool:
        return any(fault.kind == kind and fault.target == target for fault in self.faults)

    def take(self, kind: str, target: str) -> bool:
        with suppress(ValueError):
            self.faults.remove(Fault(kind, target))
            return True
        return False
