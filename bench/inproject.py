"""The parts of ``make bench`` that run inside a rendered project, with its code importable.

    python -m bench.inproject describe | assets | services | database-load | saga-loop

Run from the project's folder with the project, its ``src`` and the template root on
``PYTHONPATH`` (``bench.project.Project.run`` does that). The project's modules are imported
by name: this file is type-checked with the template, which does not know them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.data_api_front import DataApiFront

# bench_db: every invocation at the same moment, each a warm execution environment of its own.
INVOCATIONS = 1_000
SERVER_POOL = 20
LOAD_TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.005


def module(name: str) -> Any:
    return importlib.import_module(name)


def package() -> str:
    (found,) = [path.name for path in Path("src").iterdir() if (path / "naming.py").is_file()]
    return found


def describe() -> dict[str, Any]:
    """The project's answers and the functions it deploys, as the infrastructure defines them."""
    config, saga, naming = module("infra.config"), module(f"{package()}.saga"), module(f"{package()}.naming")
    return {
        "package": package(),
        "project": config.PROJECT,
        "region": config.REGION,
        "database_mode": config.DATABASE_MODE,
        "python_version": config.PYTHON_VERSION,
        "architecture": config.LAMBDA_ARCHITECTURE,
        "memory_mb": config.LAMBDA_MEMORY_MB,
        "metrics_namespace": config.METRICS_NAMESPACE,
        "steps": [{"name": step.name, "compensation": step.compensation} for step in saga.STEPS],
        "consumers": [{"name": consumer.name, "receives": list(consumer.receives)} for consumer in saga.CONSUMERS],
        "outcome_status": dict(naming.OUTCOME_STATUS),
        "saga_requested": naming.SAGA_REQUESTED,
    }


def assets() -> dict[str, str]:
    """Each function's asset folder, built by ``infra.packaging`` as for a deployment."""
    packaging, saga = module("infra.packaging"), module(f"{package()}.saga")
    folders = {f"step {step.name}": packaging.step_asset(step.name) for step in saga.STEPS}
    folders |= {f"consumer {consumer.name}": packaging.consumer_asset(consumer.name) for consumer in saga.CONSUMERS}
    folders["starter"] = packaging.starter_asset()
    folders["migrations"] = packaging.migrations_asset()
    return {name: str(folder) for name, folder in folders.items()}


def services() -> None:
    """PostgreSQL with the migrations applied, reached as the functions reach Aurora, until stdin closes.

    data_api: an HTTP front on the project's Data API emulation; rds_proxy: pgbouncer in transaction
    pooling mode. Prints the database environment of the functions as one JSON line.
    """
    local_postgres, local_database = module("devtools.local_postgres"), module("devtools.local_database")
    with ExitStack() as stack:
        server = stack.enter_context(local_postgres.postgres_server())
        database = stack.enter_context(local_database.LocalDatabase(server.create_database("saga_bench")))
        database.migrate()
        environment = {name: value for name, value in os.environ.items() if name.startswith("DATABASE_")}
        if hasattr(database, "emulator"):
            front = stack.enter_context(DataApiFront(database.emulator))
            environment["AWS_ENDPOINT_URL_RDS_DATA"] = environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = front.url
        print(json.dumps(environment), flush=True)
        sys.stdin.read()


class Peak:
    """The most connections PostgreSQL saw at once, by client, while the load runs."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self.total = 0
        self.by_client: dict[str, int] = {}
        self.samples = 0
        self.done = threading.Event()

    def poll(self) -> None:
        while not self.done.is_set():
            seen: dict[str, int] = self.database.server_connections()
            self.samples += 1
            self.total = max(self.total, sum(seen.values()))
            for client, count in seen.items():
                self.by_client[client] = max(self.by_client.get(client, 0), count)
            time.sleep(POLL_SECONDS)


def database_load() -> dict[str, Any]:
    """1,000 invocations of the first step's database work at the same moment, each in a thread of its own
    that keeps its state afterwards, as a warm execution environment does. Loopback only, bounded in time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * INVOCATIONS)), hard))
    local_postgres, local_database = module("devtools.local_postgres"), module("devtools.local_database")
    saga, effects = module(f"{package()}.saga"), module(f"{package()}.database.effects")
    database_layer = module(f"{package()}.database")
    table = effects.EffectTable(saga.STEPS[0].name)
    latencies: list[float] = []
    errors: list[str] = []
    start, finish = threading.Barrier(INVOCATIONS + 1), threading.Event()

    def invocation() -> None:
        start.wait()
        began = time.perf_counter()
        try:
            table.record(f"load-{uuid.uuid4().hex}", {"load": True})
            latencies.append(time.perf_counter() - began)
        except Exception as error:  # every failure is counted and reported
            errors.append(f"{type(error).__name__}: {error}")
        finish.wait(LOAD_TIMEOUT_SECONDS)
        if hasattr(database_layer, "rds_proxy"):
            database_layer.rds_proxy.close()

    with (
        local_postgres.postgres_server() as server,
        local_database.LocalDatabase(server.create_database("saga_load"), pool_size=SERVER_POOL) as database,
    ):
        database.migrate()
        threads = [threading.Thread(target=invocation, daemon=True) for _ in range(INVOCATIONS)]
        for thread in threads:
            thread.start()
        peak = Peak(database)
        poller = threading.Thread(target=peak.poll, daemon=True)
        poller.start()
        began = time.perf_counter()
        deadline = began + LOAD_TIMEOUT_SECONDS
        start.wait()
        while len(latencies) + len(errors) < INVOCATIONS and time.perf_counter() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - began
        peak.done.set()
        poller.join()
        finish.set()
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
        stored = database.admin.execute(f'SELECT count(*) FROM "{table.table}"').fetchone()
        proxied = not hasattr(database, "emulator")
        emulator_name = module("devtools.data_api_emulator").APPLICATION_NAME if not proxied else ""
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "access": f"pgbouncer, transaction pooling, {SERVER_POOL} server connections"
        if proxied
        else f"local Data API emulation, {SERVER_POOL} server connections",
        "invocations": INVOCATIONS,
        "succeeded": len(latencies),
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "unfinished": INVOCATIONS - len(latencies) - len(errors),
        "rows_written": int(stored[0]) if stored else 0,
        "seconds": elapsed,
        "p50_ms": quantiles[49] * 1000 if quantiles else None,
        "p99_ms": quantiles[98] * 1000 if quantiles else None,
        "peak_server_connections": peak.total,
        "peak_handler_connections": sum(n for name, n in peak.by_client.items() if name != emulator_name),
    }


def saga_loop(runs: int) -> dict[str, Any]:
    """One offline saga, happy path: moto's Step Functions interpreter, the real handlers, a real PostgreSQL."""
    os.environ.setdefault("AWS_DEFAULT_REGION", module("infra.config").REGION)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
    local_postgres, local_database = module("devtools.local_postgres"), module("devtools.local_database")
    runner, local_run = module("devtools.harness.runner"), module("devtools.local_run")
    with (
        local_postgres.postgres_server() as server,
        local_database.LocalDatabase(server.create_database("saga_loop")) as database,
    ):
        database.migrate()
        with local_run.quiet_handlers(), runner.SagaHarness(database) as harness:
            harness.run()  # imports and first calls stay out of the figures
            seconds = []
            for _ in range(runs):
                began = time.perf_counter()
                run = harness.run()
                seconds.append(time.perf_counter() - began)
                if run.status != "SUCCEEDED":
                    raise RuntimeError(f"the happy path ended {run.status}: {run.error}")
    return {"median_ms": statistics.median(seconds) * 1000, "runs": runs, "state_transitions": run.state_transitions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("describe", "assets", "services", "database-load", "saga-loop"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "services":
        services()
        return 0
    figures: Any
    if args.command == "describe":
        figures = describe()
    elif args.command == "assets":
        figures = assets()
    elif args.command == "database-load":
        figures = database_load()
    else:
        figures = saga_loop(args.runs)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
