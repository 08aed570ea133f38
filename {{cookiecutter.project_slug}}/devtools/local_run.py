"""Run sagas offline and show what happened: ``make local-run ARGS="..."``.

The real definition runs in moto's interpreter and calls the real handlers, which write to a real PostgreSQL as
they write to Aurora in AWS: a throwaway server, or the database ``SAGA_DATABASE_URL`` names (migrated first).
One saga prints a trace; many at once (``--sagas``) the rate and every broken invariant, exiting 1 if there is
one. ``--json`` prints one JSON object instead, and nothing else.
"""

import argparse
import contextlib
import io
import json
import logging
import os
import resource
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devtools.harness.account import LAMBDA_ENVIRONMENT
from devtools.harness.faults import FAULTS, STEP_FAILURES, Fault, Injection
from devtools.prerequisites import require
from {{ cookiecutter.package_name }} import saga

if TYPE_CHECKING:
    from devtools.harness.runner import SagaRun

# Each execution in progress runs threads and may hold a database connection: a share of the open-files limit.
MAX_CONCURRENCY = resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    steps = [step.name for step in saga.STEPS]
    compensations = [str(step.compensation) for step in saga.STEPS if step.compensation]
    parser = argparse.ArgumentParser(prog="local-run", description="Run sagas offline.", usage=argparse.SUPPRESS)
    for flag, metavar, text in (
        ("--fail", "STEP:KIND", f"make a step fail; steps: {', '.join(steps)}; kinds: {', '.join(STEP_FAILURES)}"),
        ("--fail-compensation", "NAME", f"make a compensation fail every time: {', '.join(compensations) or 'none'}"),
        ("--fault", "FAULT", f"reproduce a behaviour of AWS: {', '.join(FAULTS)} (devtools/harness/faults.py)"),
    ):
        parser.add_argument(flag, action="append", default=[], metavar=metavar, help=f"{text} (repeatable)")
    parser.add_argument("--input", type=Path, help='a JSON file with the input: {"saga_id": ..., "payload": {...}}')
    parser.add_argument("--sagas", type=int, help="run this many sagas at once, a seeded mix of faults")
    parser.add_argument("--concurrency", type=int, default=1, help="with --sagas: executions in progress at once")
    parser.add_argument("--seed", type=int, default=0, help="with --sagas: the seed of the mix")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the trace")
    args = parser.parse_args(argv)
    try:
        args.failures = dict(failure.partition(":")[::2] for failure in args.fail)
        args.faults = [Fault.parse(fault, tuple(steps)) for fault in args.fault]
        Injection(args.failures, args.fail_compensation, args.faults)  # or a ValueError that names what is wrong
    except ValueError as error:
        parser.error(str(error))
    if args.sagas is not None and (args.sagas < 1 or args.fail or args.fail_compensation or args.fault or args.input):
        parser.error("--sagas N: N from 1, and no --fail, --fail-compensation, --fault or --input: it runs its own mix")
    if not 0 < args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency {args.concurrency}: from 1 to {MAX_CONCURRENCY}, what this process can run")
    return args


@contextlib.contextmanager
def quiet_handlers() -> Iterator[None]:
    """Keep the handlers' log lines and metrics, and moto's warnings, off stdout and stderr."""
    from {{ cookiecutter.package_name }}.runtime.observability import logger  # noqa: PLC0415 - reads the environment

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    log_handler = logger.registered_handler
    if not isinstance(log_handler, logging.StreamHandler):
        raise TypeError("the Powertools logger no longer writes to a stream")
    previous = log_handler.setStream(io.StringIO())
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(action="ignore"):
            yield
    finally:
        log_handler.setStream(previous)


def summary(run: "SagaRun") -> dict[str, Any]:
    """What ``--json`` prints of one run; the calls and events of its re-run follow its own."""
    runs = [run, *([run.rerun] if run.rerun else [])]
    report = {
        "status": run.status,
        "error": run.error,
        "outcome": run.record["status"] if run.record else None,
        "calls": [call for each in runs for call in each.calls],
        "events": [event for each in runs for event in each.event_types],
        "dlq_messages": len(run.dlq_messages),
        "state_transitions": run.state_transitions,
        "waited_seconds": round(sum(run.retry_delays), 1),
        "consumer_deliveries": run.consumer_deliveries,
        "effects": run.effects,
    }
    return report | {key: {"status": other.status, "output": other.output} for key, other in run.others.items()}


def trace(run: "SagaRun") -> list[str]:
    """Each state entered, each handler call and retry, the events, the effects, the outcome."""
    calls, delays, retrying = iter(run.invocations), iter(run.retry_delays), False
    lines = [f"saga {run.saga_id}"]
    for event in run.history:
        if "stateEnteredEventDetails" in event:
            lines.append(f"  > {event['stateEnteredEventDetails']['name']}")
        elif event["type"] == "TaskScheduled":
            lines += [f"      retry in {next(delays):.2f} s (not waited for)"] if retrying else []
            if event["taskScheduledEventDetails"]["resourceType"] == "lambda":
                call = next(calls)
                outcome = "ok" if call.outcome == "ok" else f"failed: {call.outcome}"
                lines.append(f"      {call.role} {call.function}: {outcome}")
        retrying = event["type"] in ("TaskFailed", "TaskTimedOut")
    lines += [f"  event {event['detail-type']}: {json.dumps(event['detail'])}" for event in run.events]
    lines += [
        f"  consumer {name} received: {', '.join(got) or 'nothing'}" for name, got in run.consumer_deliveries.items()
    ]
    lines += [f"  {step} effect in the database: {state or 'none'}" for step, state in run.effects.items()]
    if run.dlq_messages:
        lines.append(f"  dead-letter queue: {len(run.dlq_messages)} message(s) with the saga state")
    for name, other in run.others.items():
        lines.append(f"  the {name} ended {other.status}: {json.dumps(other.output)}, calls {other.calls}")
    error, outcome = f" ({run.error})" if run.error else "", f", saga {run.record['status']}" if run.record else ""
    return [*lines, f"execution {run.status}{error}{outcome}, {run.state_transitions} state transitions"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    require("local-run")
    for name, value in {**LAMBDA_ENVIRONMENT, "POWERTOOLS_SERVICE_NAME": "local-run"}.items():
        os.environ.setdefault(name, value)
    # The handlers read their environment when first imported: only now, with it set.
    from devtools.harness.runner import SagaHarness, run_many  # noqa: PLC0415
    from devtools.local_database import LocalDatabase  # noqa: PLC0415
    from devtools.local_postgres import postgres_server  # noqa: PLC0415

    saga_input = json.loads(args.input.read_text(encoding="utf-8")) if args.input else None
    with postgres_server() as server, LocalDatabase(server.url) as database, quiet_handlers():
        database.migrate()  # its log lines, if it waits for the database, stay off stdout too
        with SagaHarness(database) as harness:
            if args.sagas:
                report = run_many(harness, args.sagas, args.concurrency, args.seed)
            else:
                report = summary(run := harness.run(saga_input, args.failures, args.fail_compensation, args.faults))
    if args.json:
        print(json.dumps(report))
    elif args.sagas:
        rate = f"{report['sagas_per_second']} sagas a second, at most {report['peak_in_progress']} in progress at once"
        print("\n".join([f"{args.sagas} sagas, {rate}", *report["violations"]]))
    else:
        print("\n".join(trace(run)))
    return 1 if report.get("violations") else 0


if __name__ == "__main__":
    sys.exit(main())
