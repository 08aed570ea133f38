{%- set saga = cookiecutter | saga_model -%}
"""What a saga definition can cost at worst: per path, its duration and its state transitions.

Read from the definition itself (its timeouts, retry rules and backoff caps), so it holds for
whatever the file says. A task's attempt lasts at most its ``TimeoutSeconds``; it is tried once
plus the ``MaxAttempts`` of every retry rule, with the longest waits the rules allow.

{%- if saga.database_mode == "data_api" %}
A paused Aurora resumes once per execution: it pauses only after 300 seconds without a
connection, and no wait of the definition comes near that (``check`` makes sure), so once awake
it stays awake until the saga ends. Its retry budget is therefore counted once per path, at the
task where it costs most, not at every task.
{%- else %}
Through RDS Proxy, ``DatabaseNotReady`` means that no database connection could be had in time
(every connection busy, a failover, a slow login): that can happen at any task, so its retry
budget counts at every task, like any other.
{%- endif %}

Standard library only: the template runs it when it generates the project.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.timing import (
{%- if saga.database_mode == "data_api" %}
    AURORA_AUTO_PAUSE_SECONDS,
{%- endif %}
    DATABASE_WAIT_SECONDS,
    EXPRESS_LIMIT_SECONDS,
    EXPRESS_SAFETY_MARGIN_SECONDS,
    INIT_PHASE_SECONDS,
    LAMBDA_THROTTLED,
{%- if saga.database_mode == "rds_proxy" %}
    SHORTEST_FUNCTION_TIMEOUT,
{%- endif %}
    THROTTLE_SECONDS,
    Timing,
)
from {{ saga.package_name }}.naming import DATABASE_NOT_READY, STEP_IN_PROGRESS, Step

EXPRESS_BUDGET_SECONDS = EXPRESS_LIMIT_SECONDS - EXPRESS_SAFETY_MARGIN_SECONDS
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


class SagaDoesNotFit(ValueError):
    """No timing lets every path of the saga end within its workflow's limits."""


@dataclass(frozen=True)
class Cost:
    """The worst case of a state, or of a path of states."""

    seconds: float = 0.0
    transitions: int = 0
{%- if saga.database_mode == "data_api" %}
    database_wait: float = 0.0
    """Seconds spent waiting for a resuming database: counted once per path."""

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.seconds + other.seconds,
            self.transitions + other.transitions,
            max(self.database_wait, other.database_wait),
        )

    @property
    def total_seconds(self) -> float:
        return self.seconds + self.database_wait
{%- else %}

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, self.transitions + other.transitions)

    @property
    def total_seconds(self) -> float:
        return self.seconds
{%- endif %}


@dataclass(frozen=True)
class Scenario:
    """One way a saga can go: which step's state fails and how, and which compensations' states fail."""

    name: str
    failed_state: str | None = None
    rejected: bool = False
    failing_compensations: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class PathFigures:
    """One path as the definition runs it: what it is billed, and what it can take at worst."""

    scenario: Scenario
    states: tuple[str, ...]
    outcome: str
    transitions: int
    """States entered, plus the retries of each compensation that fails: what a Standard workflow bills."""
    invocations: int
    """Lambda invocations, retries of failing compensations included."""
    worst: Cost


def retry_delays(rule: Mapping[str, Any]) -> list[float]:
    """The longest wait before each retry of one Retry rule, with the States Language defaults."""
    interval = float(rule.get("IntervalSeconds", 1))
    backoff = float(rule.get("BackoffRate", 2.0))
    cap = rule.get("MaxDelaySeconds")
    delays = []
    for attempt in range(int(rule.get("MaxAttempts", 3))):
        delay = interval * backoff**attempt
        delays.append(delay if cap is None else min(delay, float(cap)))
    return delays


def guaranteed_wait(rule: Mapping[str, Any]) -> float:
    """How long a rule's retries wait at the least: with full jitter any wait may be zero."""
    return 0.0 if rule.get("JitterStrategy") == "FULL" else sum(retry_delays(rule))


def first_rule_for(state: Mapping[str, Any], error: str) -> Mapping[str, Any] | None:
    """The Retry rule Step Functions applies to ``error``: the first that names it, or States.ALL."""
    for rule in state.get("Retry", []):
        if error in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]:
            return rule  # type: ignore[no-any-return]
    return None


def state_cost(state: Mapping[str, Any]) -> Cost:
    if state["Type"] != "Task":
        return Cost(transitions=1)
{%- if saga.database_mode == "data_api" %}
    seconds, transitions, database_wait = 0.0, 1, 0.0
    attempt = float(state["TimeoutSeconds"])
    for rule in state.get("Retry", []):
        delays = retry_delays(rule)
        transitions += len(delays)
        if rule["ErrorEquals"] == [DATABASE_NOT_READY]:
            database_wait += sum(delays) + attempt * len(delays)
        elif rule["ErrorEquals"] == [LAMBDA_THROTTLED]:
            seconds += sum(delays)  # a throttled invocation never ran: only the waits count
        else:
            seconds += sum(delays) + attempt * len(delays)
    return Cost(seconds + attempt, transitions, database_wait)
{%- else %}
    seconds, transitions = 0.0, 1
    attempt = float(state["TimeoutSeconds"])
    for rule in state.get("Retry", []):
        delays = retry_delays(rule)
        transitions += len(delays)
        seconds += sum(delays) + attempt * len(delays)
    return Cost(seconds + attempt, transitions)
{%- endif %}


def successors(state: Mapping[str, Any]) -> Iterator[str]:
    yield from (choice["Next"] for choice in state.get("Choices", []))
    if "Default" in state:
        yield state["Default"]
    if "Next" in state:
        yield state["Next"]
    yield from (catcher["Next"] for catcher in state.get("Catch", []))


def longest_path(definition: Mapping[str, Any]) -> Cost:
    """The worst case over every path from the start: its duration and, maximised apart, its transitions."""
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    worst: dict[str, tuple[Cost, Cost]] = {}
    visiting: set[str] = set()

    def visit(name: str) -> tuple[Cost, Cost]:
        """(slowest, busiest) of the paths from ``name``."""
        if name in worst:
            return worst[name]
        if name in visiting:
            raise ValueError(f"the definition loops through {name!r}: its worst case is unbounded")
        visiting.add(name)
        own = state_cost(states[name])
        after = [visit(following) for following in successors(states[name])]
        visiting.discard(name)
        if not after:
            worst[name] = (own, own)
        else:
            slowest = max((own + duration for duration, _ in after), key=lambda cost: cost.total_seconds)
            busiest = max((own + busy for _, busy in after), key=lambda cost: cost.transitions)
            worst[name] = (slowest, busiest)
        return worst[name]

    slowest, busiest = visit(definition["StartAt"])
{%- if saga.database_mode == "data_api" %}
    return Cost(slowest.seconds, busiest.transitions, slowest.database_wait)
{%- else %}
    return Cost(slowest.seconds, busiest.transitions)
{%- endif %}


def walk(definition: Mapping[str, Any], scenario: Scenario) -> tuple[str, ...]:
    """The states one scenario enters, in order, for a valid input."""
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    name, entered, compensation_failed = definition["StartAt"], [], False
    while True:
        entered.append(name)
        state = states[name]
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return tuple(entered)
        catchers = {tuple(catcher["ErrorEquals"]): catcher["Next"] for catcher in state.get("Catch", [])}
        if state["Type"] == "Choice":
            # Input validation passes; the check at the end of the compensations branches on their errors.
            (rule,) = state["Choices"]
            checks_errors = "$.compensation_errors." in str(rule)
            name = rule["Next"] if compensation_failed or not checks_errors else state["Default"]
        elif name == scenario.failed_state:
            rejection = next((errors for errors in catchers if errors != ("States.ALL",)), None)
            name = catchers[rejection] if scenario.rejected and rejection else catchers[("States.ALL",)]
        elif name in scenario.failing_compensations:
            compensation_failed = True
            name = catchers[("States.ALL",)]
        else:
            name = state["Next"]


def outcome(definition: Mapping[str, Any], path: tuple[str, ...]) -> str:
    last = definition["States"][path[-1]]
    if last["Type"] == "Fail":
        return f"fails: {last['Error']}"
    statuses = [
        item["status"]["S"]
        for name in path
        if (item := definition["States"][name].get("Parameters", {}).get("Item")) and "status" in item
    ]
    return statuses[-1] if statuses else "ignored"


def figures(definition: Mapping[str, Any], scenario: Scenario) -> PathFigures:
    states = definition["States"]
    path = walk(definition, scenario)
    worst, invocations, retries = Cost(), 0, 0
    for name in path:
        worst = worst + state_cost(states[name])
        invocations += states[name].get("Resource") == LAMBDA_INVOKE
        if name in scenario.failing_compensations:
            # A compensation fails only once its rule for any error has run out of retries.
            rule = first_rule_for(states[name], "AnyError")
            retries += int(rule.get("MaxAttempts", 3)) if rule else 0
    return PathFigures(scenario, path, outcome(definition, path), len(path) + retries, invocations + retries, worst)


def scenarios(steps: tuple[Step, ...]) -> list[Scenario]:
    """The happy path, each step rejected and failing, and each compensation failing after the last step failed."""
    last = steps[-1]
    undone = [step for step in steps if step.compensation]
    paths = [Scenario("happy path")]
    for step in steps:
        paths.append(Scenario(f"{step.name} rejected", step.title, rejected=True))
        paths.append(Scenario(f"{step.name} fails", step.title))
    for step in undone:
        paths.append(
            Scenario(
                f"{last.name} fails, {step.compensation} fails", last.title, False, frozenset({step.compensation_title})
            )
        )
    if len(undone) > 1:
        every = frozenset(step.compensation_title for step in undone)
        paths.append(Scenario(f"{last.name} fails, every compensation fails", last.title, False, every))
    return paths


def check(definition: Mapping[str, Any], timing: Timing, workflow_type: str) -> list[str]:
    """Every way the definition breaks a limit of its workflow or a promise of the saga; empty when none."""
    problems = []
{%- if saga.database_mode == "rds_proxy" %}
    if timing.function_timeout < SHORTEST_FUNCTION_TIMEOUT:
        problems.append(
            f"functions time out after {timing.function_timeout} s, less than the {SHORTEST_FUNCTION_TIMEOUT} s "
            "a first invocation needs to open its connection and still do its work"
        )
{%- endif %}
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        if "TimeoutSeconds" not in state:
            problems.append(f"{name}: no TimeoutSeconds")
            continue
{%- if saga.database_mode == "data_api" %}
        waits = [*retry_delays_of(state), float(state["TimeoutSeconds"])]
        if max(waits) >= AURORA_AUTO_PAUSE_SECONDS:
            problems.append(f"{name}: waits {max(waits):.0f} s at once, long enough for Aurora to pause again")
{%- endif %}
        if state.get("Resource") != LAMBDA_INVOKE:
            continue
        if state["TimeoutSeconds"] <= timing.function_timeout + INIT_PHASE_SECONDS:
            problems.append(
                f"{name}: TimeoutSeconds {state['TimeoutSeconds']} does not exceed the function's "
                f"{timing.function_timeout} s plus its {INIT_PHASE_SECONDS} s init phase"
            )
        busy = first_rule_for(state, STEP_IN_PROGRESS)
        if busy is None or guaranteed_wait(busy) <= timing.function_timeout:
            problems.append(
                f"{name}: retrying {STEP_IN_PROGRESS} waits less than the function's {timing.function_timeout} s"
            )
        throttled = first_rule_for(state, LAMBDA_THROTTLED)
        if workflow_type == "STANDARD" and (throttled is None or guaranteed_wait(throttled) < THROTTLE_SECONDS):
            problems.append(f"{name}: retrying {LAMBDA_THROTTLED} waits less than {THROTTLE_SECONDS} s")
        database = first_rule_for(state, DATABASE_NOT_READY)
        if database is None or guaranteed_wait(database) < DATABASE_WAIT_SECONDS:
            problems.append(f"{name}: retrying {DATABASE_NOT_READY} waits less than {DATABASE_WAIT_SECONDS} s")
    if workflow_type == "EXPRESS":
        longest = longest_path(definition).total_seconds
        if longest > EXPRESS_BUDGET_SECONDS:
            problems.append(
                f"a path can take {longest:.0f} s, more than the {EXPRESS_BUDGET_SECONDS} s an Express execution may"
            )
    return problems


{%- if saga.database_mode == "data_api" %}


def retry_delays_of(state: Mapping[str, Any]) -> list[float]:
    return [delay for rule in state.get("Retry", []) for delay in retry_delays(rule)]
{%- endif %}
