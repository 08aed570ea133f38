"""Print what the project costs in time and size: cold imports, assets, the local feedback loop, each path's cost.

    python -m devtools.bench [--runs 10] [--only cold,first-call,size,loop,matrix,cost] [--json FILE]

- cold: each handler module imported in a fresh interpreter, in Lambda's environment (tracing
  on), median of ``--runs``, next to a module that imports only boto3 and the Powertools
  Logger; interleaved, so a busy machine slows both alike.
- first-call: what moved out of the import: in a fresh interpreter with moto standing in
  for DynamoDB, the import, the first invocation and the second of each step and consumer
  (their business functions replaced by one that returns at once).
- size: the zipped asset of every function, as ``infra.packaging`` builds it for deployment.
- loop: ``devtools.bench_saga``: one offline saga, and the state transitions of a few paths.
- matrix: the wall time of ``pytest tests/saga``, every failure of every step.
- cost: the state transitions, Lambda invocations and price of every path (``devtools.cost``).
"""

import argparse
import io
import json
import os
import statistics
import subprocess  # runs this interpreter on fixed code, and pytest
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from infra import config

PROJECT_DIR = Path(__file__).resolve().parent.parent
BASELINE = "import boto3\nfrom aws_lambda_powertools import Logger"
COLD_START_GOAL = 1.25
DATA_API_ASSET_GOAL_BYTES = 1_000_000
SECTIONS = ("cold", "first-call", "size", "loop", "matrix", "cost")


def handler_modules() -> dict[str, str]:
    """Every module a function's handler lives in, by a short name."""
    modules = {f"step {step.name}": f"{config.PACKAGE}.services.{step.name}.handler" for step in config.STEPS}
    modules |= {f"consumer {name}": f"{config.PACKAGE}.consumers.{name}.handler" for name in config.CONSUMERS}
    modules["starter"] = f"{config.PACKAGE}.starter.handler"
    modules["migrations"] = f"{config.PACKAGE}.database.migrate"
    return modules


def lambda_environment(task_root: str) -> dict[str, str]:
    """What Lambda sets for one of the functions (tracing on), with credentials that reach nothing."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_", "_X_AMZN", "DATABASE_"))
    }
    environment.update(
        PYTHONPATH=str(PROJECT_DIR / "src"),
        LAMBDA_TASK_ROOT=task_root,
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(config.LAMBDA_MEMORY_MB),
        AWS_REGION=config.REGION,
        AWS_DEFAULT_REGION=config.REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106
        AWS_SESSION_TOKEN="testing",  # noqa: S106
        POWERTOOLS_SERVICE_NAME=config.PROJECT,
        IDEMPOTENCY_TABLE_NAME="idempotency",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    return environment


def run_python(code: str, environment: dict[str, str]) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, returned here."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=environment, cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"the measured code failed:\n{code}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed_import(statements: str) -> str:
    return (
        "import time\nstarted = time.perf_counter()\n"
        f"{statements}\n"
        "import json\nprint(json.dumps(time.perf_counter() - started))"
    )


def cold_imports(runs: int) -> dict[str, Any]:
    """Median import time of each handler module, and its ratio to the baseline."""
    cases = {"baseline (boto3 + Powertools Logger)": BASELINE}
    cases |= {name: f"import {module}" for name, module in handler_modules().items()}
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as task_root:
        environment = lambda_environment(task_root)
        for _ in range(runs):
            for name, statements in cases.items():
                seconds[name].append(run_python(timed_import(statements), environment))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    baseline = medians["baseline (boto3 + Powertools Logger)"]
    return {name: {"ms": median * 1000, "ratio": median / baseline} for name, median in medians.items()}


FIRST_CALL = Template("""
import json, time
import boto3
from moto import mock_aws

mock_aws().start()
boto3.client("dynamodb").create_table(
    TableName="idempotency",
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)


class Context:
    function_name = "bench"
    function_version = "$$LATEST"
    memory_limit_in_mb = $memory
    invoked_function_arn = "arn:aws:lambda:$region:123456789012:function:bench"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self):
        return 30_000


started = time.perf_counter()
import $module as handler
imported = time.perf_counter()
$prepare
first_started = time.perf_counter()
handler.$entry(event("saga-1"), Context())
first = time.perf_counter()
handler.$entry(event("saga-2"), Context())
second = time.perf_counter()
print(json.dumps([imported - started, first - first_started, second - first]))
""")

STEP_PREPARE = Template("""
from $package.runtime.models import StepResult
handler.step.functions["action"] = lambda request: StepResult(status="DONE")

def event(saga_id):
    return {"saga_id": saga_id, "payload": {}, "results": {}}
""")

CONSUMER_PREPARE = Template("""
handler.consumer.function = lambda outcome: {"handled": True}

def event(saga_id):
    return {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": handler.DETAIL_TYPES[0],
        "source": "$package.saga", "account": "123456789012", "time": "2026-01-01T00:00:00Z",
        "region": "$region", "resources": [], "detail": {"saga_id": saga_id, "status": "FAILED"},
    }
""")


def first_calls(runs: int) -> dict[str, Any]:
    """Median import, first and second invocation of each step action and consumer, moto preloaded."""
    cases = {
        f"step {step.name}": (f"{config.PACKAGE}.services.{step.name}.handler", "handle_action", STEP_PREPARE)
        for step in config.STEPS
    }
    cases |= {
        f"consumer {name}": (f"{config.PACKAGE}.consumers.{name}.handler", "handle", CONSUMER_PREPARE)
        for name in config.CONSUMERS
    }
    figures: dict[str, list[list[float]]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as task_root:
        environment = lambda_environment(task_root)
        for _ in range(runs):
            for name, (module, entry, prepare) in cases.items():
                code = FIRST_CALL.substitute(
                    module=module,
                    entry=entry,
                    prepare=prepare.substitute(package=config.PACKAGE, region=config.REGION),
                    memory=config.LAMBDA_MEMORY_MB,
                    region=config.REGION,
                )
                figures[name].append(run_python(code, environment))
    return {
        name: {
            key: statistics.median(values[index] for values in samples) * 1000
            for index, key in enumerate(("import_ms", "first_call_ms", "second_call_ms"))
        }
        for name, samples in figures.items()
    }


def asset_sizes() -> dict[str, int]:
    """The zipped size of each function's asset, in bytes."""
    from infra import packaging  # noqa: PLC0415 - only this section builds assets

    functions: dict[str, tuple[tuple[str, ...], bool]] = {}
    for step in config.STEPS:
        functions[f"{step.name} (action)"] = (("services", step.name), True)
        if step.compensation:
            functions[f"{step.compensation} (compensation)"] = (("services", step.name), True)
    for name in config.CONSUMERS:
        functions[f"{name} (consumer)"] = (("consumers", name), False)
    functions["starter"] = (("starter",), False)
    functions["migrations"] = ((), True)
    sizes = {}
    for name, (folder, with_database) in functions.items():
        asset = packaging.function_asset(*folder, with_database=with_database)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(asset.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(asset).as_posix())
        sizes[name] = len(buffer.getvalue())
    return sizes


def failure_matrix(workers: int) -> dict[str, Any]:
    """Wall time of the whole failure matrix, as ``pytest tests/saga`` runs it."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/saga"]
    if workers > 1:
        command += ["-n", str(workers)]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_DIR / "src")}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    seconds = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
    return {"seconds": seconds, "passed": result.returncode == 0, "summary": summary, "workers": workers}


def print_cold(figures: dict[str, Any]) -> None:
    print(f"\nCold import in a fresh interpreter, Lambda environment (goal: at most {COLD_START_GOAL}x the baseline)")
    for name, figure in figures.items():
        verdict = "" if figure["ratio"] <= COLD_START_GOAL else "  (over the goal)"
        print(f"  {name:<40} {figure['ms']:7.1f} ms  {figure['ratio']:5.2f}x{verdict}")


def print_first_calls(figures: dict[str, Any]) -> None:
    print("\nImport, first and second invocation, moto standing in for DynamoDB (imports include moto's preloads)")
    for name, figure in figures.items():
        print(
            f"  {name:<40} import {figure['import_ms']:6.1f} ms  first call {figure['first_call_ms']:6.1f} ms"
            f"  second call {figure['second_call_ms']:5.1f} ms"
        )


def print_sizes(sizes: dict[str, int]) -> None:
    goal = (
        f" (goal for data_api: under {DATA_API_ASSET_GOAL_BYTES / 1e6:g} MB)"
        if config.DATABASE_MODE == "data_api"
        else ""
    )
    target = f"{config.DATABASE_MODE}, {config.LAMBDA_ARCHITECTURE}, Python {config.PYTHON_VERSION}"
    print(f"\nZipped asset per function, {target}{goal}")
    for name, size in sizes.items():
        print(f"  {name:<40} {size / 1000:9.1f} kB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per measured module")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers for the failure matrix")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    sections = [section.strip() for section in args.only.split(",") if section.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    print(
        f"{config.PROJECT}: {len(config.STEPS)} steps, {len(config.CONSUMERS)} consumers, {config.DATABASE_MODE}, "
        f"{config.WORKFLOW_TYPE}; Python {sys.version.split()[0]} on {os.cpu_count()} CPUs"
    )
    figures: dict[str, Any] = {
        "steps": len(config.STEPS),
        "database_mode": config.DATABASE_MODE,
        "workflow_type": config.WORKFLOW_TYPE,
    }
    if "cold" in sections:
        figures["cold"] = cold_imports(args.runs)
        print_cold(figures["cold"])
    if "first-call" in sections:
        figures["first_call"] = first_calls(max(args.runs // 2, 3))
        print_first_calls(figures["first_call"])
    if "size" in sections:
        figures["asset_bytes"] = asset_sizes()
        print_sizes(figures["asset_bytes"])
    if "loop" in sections:
        from devtools import bench_saga  # noqa: PLC0415 - it deploys the saga in moto when imported

        print("\nLocal feedback loop")
        bench_saga.main(["--runs", str(max(args.runs, 10))])
    if "matrix" in sections:
        figures["matrix"] = failure_matrix(args.workers)
        matrix = figures["matrix"]
        workers = f"{matrix['workers']} worker(s)"
        print(f"\nFailure matrix (pytest tests/saga, {workers}): {matrix['seconds']:.1f} s, {matrix['summary']}")
    if "cost" in sections:
        from devtools import cost, perf_report  # noqa: PLC0415 - it deploys the saga in moto when imported

        costs = cost.measure_offline()
        figures["cost"] = [
            {
                **vars(item),
                "standard_per_million": item.per_million("STANDARD"),
                "express_per_million": item.per_million("EXPRESS"),
            }
            for item in costs
        ]
        print(f"\nCost per saga (prices as known on {cost.PRICES_AS_OF}, see devtools/cost.py)")
        print(perf_report.table(costs))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
