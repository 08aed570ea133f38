"""Many sagas at once in one offline account and one PostgreSQL, and what must hold for each afterwards."""

import itertools
import random
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from devtools.harness.faults import STEP_FAILURES, Fault, Injection
from devtools.harness.runner import SagaHarness, SagaRun
from infra.timing import DATABASE_WAIT_SECONDS
from {{ cookiecutter.package_name }} import saga
from {{ cookiecutter.package_name }}.naming import OUTCOME_STATUS


def mix(sagas: int, seed: int) -> list[Injection]:
    """``sagas`` cases, each kind in turn, at the steps the seed picks; one database pause in the middle, which
    every saga in flight then waits out."""
    pick = random.Random(seed).choice  # noqa: S311 - a mix that can be replayed, not a secret
    steps = [step.name for step in saga.STEPS]
    compensations = [str(step.compensation) for step in saga.STEPS if step.compensation]
    kinds = [
        lambda: Injection({}),
        lambda: Injection({pick(steps): pick(STEP_FAILURES)}),
        lambda: Injection({steps[-1]: "crash"}, [pick(compensations)] if compensations else []),
        lambda: Injection(faults=[Fault("duplicate")]),
        lambda: Injection({pick(steps): pick(("crash", "rejected"))}, faults=[Fault("rerun")]),
        lambda: Injection(faults=[Fault("retried-invocation", pick(steps))]),
    ]
    cases = [kinds[number % len(kinds)]() for number in range(sagas)]
    cases[sagas // 2] = Injection(faults=[Fault("db-paused", seconds=DATABASE_WAIT_SECONDS)])
    return cases


def run_many(harness: SagaHarness, sagas: int, concurrency: int, seed: int = 0) -> dict[str, Any]:
    """Run the mix, ``concurrency`` sagas at a time: the rate, the peak of executions in progress, what broke."""
    cases, began, since = mix(sagas, seed), time.monotonic(), datetime.now(UTC)

    def run(case: Injection) -> SagaRun:
        saga_input = {"saga_id": f"load-{uuid.uuid4().hex[:12]}", "payload": {}}
        return harness.run(saga_input, case.failures, case.failing_compensations, case.faults)

    # Powertools' metrics are the process's: a function flushing finds another's gone ("no metrics to publish").
    with ThreadPoolExecutor(concurrency) as pool, warnings.catch_warnings(action="ignore", category=UserWarning):
        runs = list(pool.map(run, cases))
    seconds, acted = time.monotonic() - began, Counter(harness.applied)
    return {
        "sagas": sagas,
        "concurrency": concurrency,
        "sagas_per_second": round(sagas / seconds, 1),
        "peak_in_progress": peak_in_progress(harness, since),
        "violations": [problem for case, run in zip(cases, runs, strict=True) for problem in broken(case, run, acted)],
    }


def broken(case: Injection, run: SagaRun, acted: Counter[tuple[str, str, str]]) -> list[str]:
    """What does not hold for this saga: one record and one outcome event, effects that match the outcome,
    nothing done twice, and a dead letter only when the case makes a compensation fail."""
    runs = [run, *[other for other in (run.duplicate, run.rerun) if other]]
    status = run.record["status"] if run.record else None
    events = [OUTCOME_STATUS[event] for each in runs for event in each.event_types]
    dead_letters = [message for each in runs for message in each.dlq_messages]
    undo_failed = {name for message in dead_letters for name in message["state"].get("compensation_errors", {})}
    problems = [] if events == [status] else [f"outcome {status}, outcome events {events}"]
    if len(dead_letters) != (1 if case.failing_compensations else 0):
        problems.append(f"{len(dead_letters)} dead letters, {len(case.failing_compensations)} failing compensations")
    names = [step.name for step in saga.STEPS]
    failed_at = names.index(run.record["failed_step"]) if run.record and "failed_step" in run.record else len(names)
    for position, step in enumerate(saga.STEPS):
        effect = run.effects[step.name]
        kept = effect == "DONE" and step.compensation is not None and step.compensation not in undo_failed
        if (effect != "DONE") if status == "SUCCEEDED" else (kept or (position > failed_at and effect is not None)):
            problems.append(f"{step.name}'s effect is {effect} in a saga {status}")
    twice = [f"{step} {role}" for (step, role, saga_id), times in acted.items() if saga_id == run.saga_id and times > 1]
    problems += [f"{name} acted more than once" for name in twice]
    return [f"{run.saga_id}: {problem}" for problem in problems]


def peak_in_progress(harness: SagaHarness, since: datetime) -> int:
    """The most executions in progress at one moment since ``since``, as Step Functions dates them."""
    listing = harness.account.stepfunctions.get_paginator("list_executions")
    pages = listing.paginate(stateMachineArn=harness.account.state_machine_arn)
    changes = sorted(
        (moment, change)
        for page in pages
        for execution in page["executions"]
        if execution["startDate"] >= since
        for moment, change in ((execution["startDate"], 1), (execution["stopDate"], -1))
    )
    return max(itertools.accumulate(change for _, change in changes), default=0)
