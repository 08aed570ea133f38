"""Run one saga offline and show what happened: ``make local-run ARGS="..."``.

The real state machine definition runs in moto's interpreter and calls the real handlers,
which write to a real PostgreSQL the way they write to Aurora in AWS: a throwaway server,
or the database ``SAGA_DATABASE_URL`` names (migrated first). By default it prints a
readable trace; ``--json`` prints one JSON object on stdout and nothing else there.

    python -m devtools.local_run --fail inventory:timeout
    python -m devtools.local_run --fail payment:transient --fail-compensation release_inventory --json
    python -m devtools.local_run --input saga.json
"""

import argparse
import contextlib
import importlib
import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from devtools.database_ledger import DatabaseLedger
from devtools.local_database import LocalDatabase
from devtools.local_postgres import postgres_server
from devtools.saga_harness import FUNCTIONS, KINDS, SagaHarness, SagaRun
from infra.config import PACKAGE, STEPS


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    steps = ", ".join(service.name for service in STEPS)
    compensations = ", ".join(str(service.compensation) for service in STEPS if service.compensation) or "none"
    parser = argparse.ArgumentParser(prog="local-run", description="Run one saga offline and trace it.")
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="SERVICE:KIND",
        help=f"make a step fail; services: {steps}; kinds: {', '.join(KINDS)} (repeatable)",
    )
    parser.add_argument(
        "--fail-compensation",
        action="append",
        default=[],
        metavar="NAME",
        help=f"make a compensation fail on every attempt; compensations: {compensations} (repeatable)",
    )
    parser.add_argument("--input", type=Path, help='a JSON file with the input: {"saga_id": ..., "payload": {...}}')
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the trace")
    args = parser.parse_args(argv)
    args.failures = {}
    for failure in args.fail:
        service, _, kind = failure.partition(":")
        if service not in {service.name for service in STEPS} or kind not in KINDS:
            parser.error(f"--fail {failure!r}: expected SERVICE:KIND with SERVICE in {steps} and KIND in {KINDS}")
        args.failures[service] = kind
    for name in args.fail_compensation:
        if name not in FUNCTIONS or FUNCTIONS[name].role != "compensation":
            parser.error(f"--fail-compensation {name!r}: expected one of {compensations}")
    return args


@contextlib.contextmanager
def quiet_handlers() -> Iterator[None]:
    """Keep the handlers' log lines and metrics, and moto's warnings, off stdout and stderr."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    log_handler = importlib.import_module(f"{PACKAGE}.runtime.observability").logger.registered_handler
    previous = log_handler.setStream(io.StringIO())
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        log_handler.setStream(previous)


def summary(run: SagaRun, effects: Mapping[str, str | None]) -> dict[str, Any]:
    """The report of one run: what ``--json`` prints, and what the trace ends with.

    ``effects``: per service, the state of its row for this saga as read back from the
    database (``DONE``, ``COMPENSATED``, or None when it wrote nothing).
    """
    return {
        "status": run.status,
        "error": run.error,
        "calls": run.calls,
        "events": run.event_types,
        "dlq_messages": len(run.dlq_messages),
        "state_transitions": run.state_transitions,
        "consumer_deliveries": run.consumer_deliveries,
        "effects": dict(effects),
    }


def trace(run: SagaRun, effects: Mapping[str, str | None], out: TextIO) -> None:
    """Each state entered, each handler call and retry, the events, the outcome."""
    calls = iter(run.invocations)
    delays = iter(run.retry_delays)
    print(f"saga {run.saga_id}", file=out)
    for event in run.history:
        kind = event["type"]
        if "stateEnteredEventDetails" in event:
            print(f"  > {event['stateEnteredEventDetails']['name']}", file=out)
        elif kind == "TaskScheduled" and event["taskScheduledEventDetails"]["resourceType"] == "lambda":
            call = next(calls)
            outcome = "ok" if call.outcome == "ok" else f"failed: {call.outcome}"
            print(f"      {call.role} {call.function}: {outcome}", file=out)
        elif kind == "TaskFailed" and _retried(run, event):
            print(f"      retry in {next(delays):.2f} s (backoff with jitter; not waited for)", file=out)
    for event in run.events:
        print(f"  event {event['detail-type']}: {json.dumps(event['detail'])}", file=out)
    for consumer, detail_types in run.consumer_deliveries.items():
        print(f"  consumer {consumer} received: {', '.join(detail_types) or 'nothing'}", file=out)
    for service, state in effects.items():
        print(f"  {service} effect in the database: {state or 'none'}", file=out)
    if run.dlq_messages:
        print(f"  dead-letter queue: {len(run.dlq_messages)} message(s) with the saga state", file=out)
    print(f"{run.status}{f' ({run.error})' if run.error else ''}, {run.state_transitions} state transitions", file=out)


def _retried(run: SagaRun, failed: Mapping[str, Any]) -> bool:
    """Whether the state machine scheduled the same task again after this failure."""
    following = [event for event in run.history if event["id"] > failed["id"]]
    for event in following:
        if event["type"] == "TaskScheduled":
            return True
        if event["type"].endswith("StateExited"):
            return False
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    saga_input: Any = (
        json.loads(args.input.read_text(encoding="utf-8"))
        if args.input
        else {"saga_id": f"local-{uuid.uuid4().hex[:12]}", "payload": {}}
    )
    with postgres_server() as server, LocalDatabase(server.url) as database:
        database.migrate()
        with quiet_handlers(), SagaHarness(DatabaseLedger(database)) as harness:
            run = harness.run(saga_input, failures=args.failures, fail_compensations=set(args.fail_compensation))
        states = database.effects(run.saga_id)
    effects = {service.name: states[service.name] for service in STEPS}
    if args.json:
        print(json.dumps(summary(run, effects)))
    else:
        trace(run, effects, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
