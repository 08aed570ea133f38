{%- set saga = cookiecutter | saga_model -%}
"""How long each task of the saga may take, and how it is retried: one policy per workflow type.

The state machine definition (``infra.definition``) and the Lambda functions (``infra.application``)
both read their timeouts here, so a task always waits longer than its function can run.

Three kinds of errors are retried, each with its own budget:

- another invocation holds the step (``StepInProgress``) or the idempotency table cannot be reached:
  the waits add up to more than a function's timeout, so the other invocation has ended by then;
{%- if saga.database_mode == "data_api" %}
- the database is resuming from a pause (``DatabaseNotReady``): at least 60 seconds, since Aurora
  Serverless v2 takes about 15 seconds to resume, longer after a long pause;
{%- else %}
- no database connection could be had in time (``DatabaseNotReady``: the proxy's connections all
  busy, a failover, a slow login), which may happen at any task: STANDARD waits a minute, EXPRESS
  waits once, with the step's other retries, longer than a function can run;
{%- endif %}
- transient failures (``TransientError`` and the Lambda service's own): a few quick retries with
  jitter, so that throttled callers do not retry in step;
- Lambda's throttling (``Lambda.TooManyRequestsException``): the invocation never ran, so it is
  safe to wait longer: at least a minute in STANDARD; in EXPRESS, one retry like a transient
  failure, since the five minutes leave no room for more.

An Express execution is stopped after 5 minutes and records nothing more, so for EXPRESS the policy
is the most generous one whose worst case still fits (``infra.limits`` proves it).
"""

from dataclasses import dataclass

from {{ saga.package_name }}.naming import (
    DATABASE_NOT_READY,
    IDEMPOTENCY_STORE_UNAVAILABLE,
    STEP_IN_PROGRESS,
    TRANSIENT_ERROR,
)

# Lambda may spend this long initialising a new execution environment before the handler runs.
INIT_PHASE_SECONDS = 10
# An Express execution is stopped at 5 minutes; every path must end this much earlier.
EXPRESS_LIMIT_SECONDS = 300
EXPRESS_SAFETY_MARGIN_SECONDS = 30
{%- if saga.database_mode == "data_api" %}
# What waiting for a paused Aurora must be allowed to take, at the least.
DATABASE_WAIT_SECONDS = 60
# Aurora Serverless v2 pauses only after this long without connections (its smallest setting).
AURORA_AUTO_PAUSE_SECONDS = 300
{%- else %}
# What waiting for a database connection must be allowed to take, at the least: the cluster never
# pauses at this project's minimum capacity, and the proxy holds clients through a failover.
DATABASE_WAIT_SECONDS = 5
# A first invocation opens its connection to the proxy (TCP, TLS, the IAM login: up to 1.5 s,
# ``READY_TIMEOUT_SECONDS`` in ``database/rds_proxy.py``) and must still have time for its work.
SHORTEST_FUNCTION_TIMEOUT = 5
{%- endif %}

LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)
# Lambda refused to run the function (concurrency exhausted): nothing ran.
LAMBDA_THROTTLED = "Lambda.TooManyRequestsException"
# What waiting out Lambda's throttling must be allowed to take, at the least, in a STANDARD saga.
THROTTLE_SECONDS = 60
STEP_BUSY_ERRORS = (STEP_IN_PROGRESS, IDEMPOTENCY_STORE_UNAVAILABLE)


@dataclass(frozen=True)
class Retry:
    """One Retry rule of the definition."""

    errors: tuple[str, ...]
    interval: int
    max_attempts: int
    backoff: float = 2.0
    max_delay: int | None = None
    jitter: bool = False

    def delays(self) -> list[float]:
        """The longest wait before each retry: with full jitter a wait is anywhere below it."""
        delays, delay = [], float(self.interval)
        for _ in range(self.max_attempts):
            delays.append(delay if self.max_delay is None else min(delay, self.max_delay))
            delay *= self.backoff
        return delays

    def guaranteed_wait(self) -> float:
        """How long the retries wait in total at the least: nothing can be promised with jitter."""
        return 0.0 if self.jitter else sum(self.delays())

    def asl(self) -> dict[str, object]:
        rule: dict[str, object] = {"ErrorEquals": list(self.errors), "IntervalSeconds": self.interval}
        rule |= {"MaxAttempts": self.max_attempts, "BackoffRate": self.backoff}
        if self.max_delay is not None:
            rule["MaxDelaySeconds"] = self.max_delay
        rule["JitterStrategy"] = "FULL" if self.jitter else "NONE"
        return rule


@dataclass(frozen=True)
class Timing:
    """Timeouts and retry rules of every kind of task."""

    function_timeout: int
    """Seconds every step and compensation function may run."""
    step_retries: tuple[Retry, ...]
    compensation_retries: tuple[Retry, ...]
    integration_timeout: int
    integration_retry: Retry

    @property
    def task_timeout(self) -> int:
        """A Lambda task outlasts its function's longest run, init phase included: a task that
        times out never leaves its function running while the compensation starts."""
        return self.function_timeout + INIT_PHASE_SECONDS + 1


def busy_retry(function_timeout: int, max_attempts: int) -> Retry:
    """Waits for another invocation of the step to end: together longer than a function can run."""
    first = function_timeout // max_attempts + 1
    return Retry(STEP_BUSY_ERRORS, interval=first, max_attempts=max_attempts, backoff=2.0)


def database_retry(interval: int, max_attempts: int) -> Retry:
    """Waits for a resuming database: no jitter, so that the total wait is a promise."""
    return Retry((DATABASE_NOT_READY,), interval=interval, max_attempts=max_attempts, max_delay=max(30, interval))


def throttle_retry(interval: int, max_attempts: int) -> Retry:
    """Waits out Lambda's throttling: no jitter, so that the total wait is a promise."""
    return Retry((LAMBDA_THROTTLED,), interval=interval, max_attempts=max_attempts, max_delay=30)


def standard() -> Timing:
    """No time limit: patient retries, compensations retried hardest."""
    function_timeout = 20
    return Timing(
        function_timeout=function_timeout,
        step_retries=(
            busy_retry(function_timeout, max_attempts=2),
            database_retry(interval=5, max_attempts=4),
            throttle_retry(interval=5, max_attempts=4),
            Retry((TRANSIENT_ERROR, *LAMBDA_SERVICE_ERRORS), interval=1, max_attempts=3, max_delay=10, jitter=True),
        ),
        compensation_retries=(
            busy_retry(function_timeout, max_attempts=2),
            database_retry(interval=5, max_attempts=4),
            throttle_retry(interval=5, max_attempts=4),
            Retry(("States.ALL",), interval=2, max_attempts=5, max_delay=60, jitter=True),
        ),
        integration_timeout=10,
        integration_retry=Retry(("States.ALL",), interval=1, max_attempts=3, jitter=True),
    )


{%- if saga.database_mode == "data_api" %}


def express(function_timeout: int) -> Timing:
    """Within 5 minutes: one retry of each kind, a single long wait for the database."""
    busy = busy_retry(function_timeout, max_attempts=1)
    return Timing(
        function_timeout=function_timeout,
        # Without jitter, so the one wait outlasts an invocation that holds the step.
        step_retries=(
            database_retry(interval=DATABASE_WAIT_SECONDS, max_attempts=1),
            # No room for a wait of its own: every path of the default saga already needs most of the five minutes.
            Retry(
                (*busy.errors, TRANSIENT_ERROR, *LAMBDA_SERVICE_ERRORS, LAMBDA_THROTTLED),
                interval=busy.interval,
                max_attempts=1,
            ),
        ),
        compensation_retries=(
            database_retry(interval=DATABASE_WAIT_SECONDS, max_attempts=1),
            Retry(("States.ALL",), interval=busy.interval, max_attempts=1),
        ),
{%- else %}


def express(function_timeout: int) -> Timing:
    """Within 5 minutes: one retry of every task, whatever stopped it, since each may wait for the proxy."""
    busy = busy_retry(function_timeout, max_attempts=1)
    waited = (*busy.errors, DATABASE_NOT_READY, TRANSIENT_ERROR, *LAMBDA_SERVICE_ERRORS, LAMBDA_THROTTLED)
    return Timing(
        function_timeout=function_timeout,
        # Without jitter, so the one wait outlasts an invocation that holds the step.
        step_retries=(Retry(waited, interval=busy.interval, max_attempts=1),),
        compensation_retries=(Retry(("States.ALL",), interval=busy.interval, max_attempts=1),),
{%- endif %}
        integration_timeout=3,
        integration_retry=Retry(("States.ALL",), interval=1, max_attempts=1, jitter=True),
    )


# Function timeouts an EXPRESS saga may get, most generous first.
{%- if saga.database_mode == "data_api" %}
EXPRESS_FUNCTION_TIMEOUTS = (10, 8, 5, 3)
{%- else %}
EXPRESS_FUNCTION_TIMEOUTS = (10, 8, SHORTEST_FUNCTION_TIMEOUT)
{%- endif %}
