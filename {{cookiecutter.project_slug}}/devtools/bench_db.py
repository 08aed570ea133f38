{%- set saga = cookiecutter | saga_model -%}
{%- set service = saga.services[0] -%}
"""How the database holds up when 1,000 functions run a step at the same moment (``make bench-db``).

Each of 1,000 threads plays one Lambda execution environment: it runs one
``{{ service.name }}`` database step (``repository.record``, one transaction) at the same
moment as the others and keeps its state afterwards, as a warm environment does.
{%- if saga.database_mode == "data_api" %}
The step goes through the Data API (here the local emulation), so the functions
hold no database connection at all: only the Data API does, on the server side.
{%- else %}
Each environment opens its own connection to the proxy (here pgbouncer in
transaction pooling mode with a server pool of 20), which multiplexes them all.
{%- endif %}

A poller samples ``pg_stat_activity`` every few milliseconds for the most
connections PostgreSQL saw. Loopback only, bounded by a timeout; not a test.
Set ``SAGA_DATABASE_URL`` to use an existing server instead of a throwaway one.
"""

import statistics
import threading
import time
import uuid
from typing import Any
{% if saga.database_mode == "data_api" %}
from devtools.data_api_emulator import APPLICATION_NAME
{%- endif %}
from devtools.local_database import LocalDatabase
from devtools.local_postgres import postgres_server
{%- if saga.database_mode == "rds_proxy" %}
from {{ saga.package_name }}.database import rds_proxy
{%- endif %}
from {{ saga.package_name }}.services.{{ service.name }} import repository

INVOCATIONS = 1_000
SERVER_POOL = 20
TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.005


class Peak:
    """The most connections seen at once, by client, while the load runs."""

    def __init__(self, database: LocalDatabase) -> None:
        self.database = database
        self.total = 0
        self.by_client: dict[str, int] = {}
        self.samples = 0
        self.done = threading.Event()

    def poll(self) -> None:
        while not self.done.is_set():
            seen = self.database.server_connections()
            self.samples += 1
            self.total = max(self.total, sum(seen.values()))
            for client, count in seen.items():
                self.by_client[client] = max(self.by_client.get(client, 0), count)
            time.sleep(POLL_SECONDS)


def invocation(start: threading.Barrier, finish: threading.Event, latencies: list[float], errors: list[str]) -> None:
    start.wait()
    began = time.perf_counter()
    try:
        repository.record(f"bench-{uuid.uuid4().hex}", {"bench": True})
        latencies.append(time.perf_counter() - began)
    except Exception as error:  # every failure is counted and reported
        errors.append(f"{type(error).__name__}: {error}")
    finish.wait(TIMEOUT_SECONDS)
{%- if saga.database_mode == "rds_proxy" %}
    rds_proxy.close()
{%- endif %}


def main() -> None:
    with (
        postgres_server() as server,
        LocalDatabase(server.create_database("saga_bench"), pool_size=SERVER_POOL) as database,
    ):
        database.migrate()
        latencies: list[float] = []
        errors: list[str] = []
        start, finish = threading.Barrier(INVOCATIONS + 1), threading.Event()
        threads = [
            threading.Thread(target=invocation, args=(start, finish, latencies, errors), daemon=True)
            for _ in range(INVOCATIONS)
        ]
        for thread in threads:
            thread.start()
        peak = Peak(database)
        poller = threading.Thread(target=peak.poll, daemon=True)
        poller.start()
        began = time.perf_counter()
        start.wait()
        deadline = began + TIMEOUT_SECONDS
        while len(latencies) + len(errors) < INVOCATIONS and time.perf_counter() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - began
        peak.done.set()
        poller.join()
        finish.set()
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
        report(database, peak, latencies, errors, elapsed)


def report(database: LocalDatabase, peak: Peak, latencies: list[float], errors: list[str], elapsed: float) -> None:
    stored = database.admin.execute('SELECT count(*) FROM "{{ service.name }}"').fetchone()
    unfinished = INVOCATIONS - len(latencies) - len(errors)
    lines: list[tuple[str, Any]] = [
{%- if saga.database_mode == "data_api" %}
        ("mode", "data_api (local Data API emulation on PostgreSQL)"),
{%- else %}
        ("mode", f"rds_proxy (pgbouncer, transaction pooling, server pool {SERVER_POOL})"),
{%- endif %}
        ("concurrent invocations", INVOCATIONS),
        ("succeeded", len(latencies)),
        ("errors", len(errors)),
        ("unfinished at timeout", unfinished),
        ("rows written", stored[0] if stored else 0),
        ("wall time", f"{elapsed:.2f} s"),
        ("p50 latency", _milliseconds(latencies, 0.50)),
        ("p99 latency", _milliseconds(latencies, 0.99)),
        ("max server connections seen", peak.total),
{%- if saga.database_mode == "data_api" %}
        ("  of which the Data API's", peak.by_client.get(APPLICATION_NAME, 0)),
        ("direct connections from handlers", sum(n for name, n in peak.by_client.items() if name != APPLICATION_NAME)),
{%- endif %}
        ("pg_stat_activity samples", peak.samples),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    for error in sorted(set(errors))[:5]:
        print(f"error: {error}")


def _milliseconds(latencies: list[float], quantile: float) -> str:
    if len(latencies) < 2:
        return "n/a"
    cut = statistics.quantiles(latencies, n=100, method="inclusive")[round(quantile * 100) - 1]
    return f"{cut * 1000:.1f} ms"


if __name__ == "__main__":
    main()
