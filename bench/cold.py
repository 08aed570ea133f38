"""Cold starts: a fresh interpreter in Lambda's environment imports a function's handler module and serves
its first invocation, next to a baseline that imports boto3 and the Powertools Logger, creates one
client and makes one call.

Each function is measured in turns with the baseline, in a new order every round, so that a busy
machine slows both alike; the figures are medians. The interpreter is ``bench.project.Runtime``;
the function's code is its asset as ``infra.packaging`` builds it, first on ``sys.path`` as in
``/var/task``. AWS is moto's server (``AWS_ENDPOINT_URL``), the Data API the HTTP front on the
project's emulation (``AWS_ENDPOINT_URL_RDS_DATA``), the proxy pgbouncer: the measured interpreter
never imports moto, and every call of the first invocation gets a real answer.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.project import MotoServer, Runtime

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
STEP_STATUSES = {"DONE", "COMPENSATED", "NOTHING_TO_UNDO"}
MEASURED = """\
import time as _time

_EVENT = {event}


class _Context:
    function_name = {function_name!r}
    function_version = "$LATEST"
    memory_limit_in_mb = {memory}
    invoked_function_arn = {arn!r}
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self):
        return 30_000


_started = _time.perf_counter()
{imports}
_imported = _time.perf_counter()
_result = {call}
_finished = _time.perf_counter()
import json as _json
print("@@bench " + _json.dumps([_imported - _started, _finished - _imported, _result], default=str), flush=True)
"""


@dataclass(frozen=True)
class Function:
    """One deployed function: what Lambda imports and calls, and its environment."""

    name: str
    kind: str
    asset: str
    imports: str
    call: str
    environment: tuple[tuple[str, str], ...] = ()


BASELINE = Function(
    "baseline",
    "baseline",
    "",
    "import boto3\nfrom aws_lambda_powertools import Logger",
    'boto3.client("dynamodb").get_item(TableName="idempotency", Key={"id": {"S": _EVENT["saga_id"]}})',
)


def functions(description: dict[str, Any]) -> list[Function]:
    """Every function of the project, as ``infra/application.py`` deploys them."""
    package = description["package"]
    handlers = f"from {package} import handlers as _handler"
    found = []
    for step in description["steps"]:
        roles = {"action": step["name"], "compensation": step["compensation"]}
        for role, name in roles.items():
            if name:
                call = f"_handler.{role}(_EVENT, _Context())"
                environment = (("SAGA_STEP", step["name"]),)
                found.append(Function(f"{role} {name}", role, f"step {step['name']}", handlers, call, environment))
    for consumer in description["consumers"]:
        environment = (("SAGA_CONSUMER", consumer["name"]),)
        call = "_handler.outcome(_EVENT, _Context())"
        found.append(
            Function(
                f"consumer {consumer['name']}", "consumer", f"consumer {consumer['name']}", handlers, call, environment
            )
        )
    found.append(
        Function(
            "starter",
            "starter",
            "starter",
            f"from {package} import starter as _handler",
            "_handler.handle(_EVENT, _Context())",
        )
    )
    found.append(
        Function(
            "migrations",
            "migrations",
            "migrations",
            f"from {package}.database import migrate as _handler",
            "_handler.handler(_EVENT, _Context())",
        )
    )
    return found


def event(function: Function, description: dict[str, Any], saga_id: str, state_machine_arn: str) -> dict[str, Any]:
    """A first invocation's event, for a saga nobody has seen yet; an outcome comes from an execution of the
    state machine, as consumers require."""
    if function.kind in {"action", "compensation", "baseline"}:
        return {"saga_id": saga_id, "payload": {"amount": 10}, "results": {}}
    if function.kind == "consumer":
        consumer = next(item for item in description["consumers"] if function.name == f"consumer {item['name']}")
        detail_type = consumer["receives"][0]
        detail = {"saga_id": saga_id, "status": description["outcome_status"][detail_type]}
        execution = f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{saga_id}"
        outcome = eventbridge(detail_type, f"{description['package']}.saga", detail, description["region"])
        return outcome | {"resources": [execution]}
    if function.kind == "starter":
        detail = {"saga_id": saga_id, "payload": {"amount": 10}}
        return eventbridge(
            description["saga_requested"], f"{description['package']}.orders", detail, description["region"]
        )
    return {}


def eventbridge(detail_type: str, source: str, detail: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": region,
        "resources": [],
        "detail": detail,
    }


def succeeded(function: Function, result: Any, saga_id: str) -> bool:
    """Whether the first invocation did its work, rather than fail quietly."""
    if not isinstance(result, dict):
        return False
    if function.kind == "baseline":
        return "ResponseMetadata" in result
    if function.kind in {"action", "compensation"}:
        return result.get("status") in STEP_STATUSES
    if function.kind == "consumer":
        return bool(result.get("saga_id") == saga_id)
    if function.kind == "starter":
        return result.get("started") is True
    return isinstance(result.get("applied"), list)


class ColdStarts:
    """Measures the functions of one project against the baseline."""

    def __init__(
        self,
        runtime: Runtime,
        description: dict[str, Any],
        assets: dict[str, str],
        database: dict[str, str],
        moto: MotoServer,
    ) -> None:
        self.runtime = runtime
        self.description = description
        self.assets = assets
        self.database = database
        self.moto = moto

    def environment(self, function: Function, asset: str) -> dict[str, str]:
        """What Lambda sets for the function (tracing on), with credentials that reach only the local services."""
        description, title = self.description, f"{self.description['project']}-{function.name.replace(' ', '-')}"
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": asset,
            # /var/task is read-only: a module without a .pyc is compiled again at every cold start.
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAMBDA_TASK_ROOT": asset,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{description['python_version']}",
            "AWS_LAMBDA_FUNCTION_NAME": title,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(description["memory_mb"]),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            "AWS_REGION": description["region"],
            "AWS_DEFAULT_REGION": description["region"],
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_ENDPOINT_URL": self.moto.url,
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_SERVICE_NAME": title,
            "POWERTOOLS_METRICS_NAMESPACE": description["metrics_namespace"],
            "IDEMPOTENCY_TABLE_NAME": MotoServer.IDEMPOTENCY_TABLE,
            "SAGA_TABLE_NAME": MotoServer.SAGA_TABLE,
            "SAGA_STATE_MACHINE_ARN": self.moto.state_machine_arn,
            **self.database,
            **dict(function.environment),
        }

    def run(self, function: Function, asset_of: Function, *, importtime: bool = False) -> tuple[float, float, str]:
        """One cold start of ``function`` in the environment of ``asset_of``: import and first invocation seconds."""
        saga_id = f"bench-{uuid.uuid4().hex[:16]}"
        code = MEASURED.format(
            event=repr(event(function, self.description, saga_id, self.moto.state_machine_arn)),
            function_name=function.name,
            memory=self.description["memory_mb"],
            arn=f"arn:aws:lambda:{self.description['region']}:123456789012:function:bench",
            imports=function.imports,
            call=function.call,
        )
        command = [self.runtime.python, *(["-X", "importtime"] if importtime else []), "-c", code]
        environment = self.environment(asset_of, self.assets[asset_of.asset])
        result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        lines = [line for line in result.stdout.splitlines() if line.startswith("@@bench ")]
        if result.returncode != 0 or not lines:
            raise RuntimeError(
                f"{function.name}: the cold start failed\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        imported, first, answer = json.loads(lines[-1].removeprefix("@@bench "))
        if not succeeded(function, answer, saga_id):
            raise RuntimeError(f"{function.name}: the first invocation answered {answer!r}\n{result.stderr[-3000:]}")
        return float(imported), float(first), result.stderr

    def measure(self, runs: int) -> dict[str, Any]:
        """Median cold start of each function and of the baseline run next to it, and their ratio."""
        measured = functions(self.description)
        samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        paired: dict[str, list[float]] = defaultdict(list)
        baseline: list[tuple[float, float]] = []
        shuffle = random.Random(20261129)
        for round_number in range(runs):
            for function in shuffle.sample(measured, len(measured)):
                pair = [BASELINE, function] if round_number % 2 else [function, BASELINE]
                for case in pair:
                    imported, first, _ = self.run(case, function)
                    if case is BASELINE:
                        baseline.append((imported, first))
                        paired[function.name].append(imported + first)
                    else:
                        samples[function.name].append((imported, first))
            print(f"  round {round_number + 1}/{runs} done", flush=True)
        figures: dict[str, Any] = {"baseline": summary(baseline)}
        for function in measured:
            figures[function.name] = summary(samples[function.name])
            figures[function.name]["baseline_ms"] = statistics.median(paired[function.name]) * 1000
            figures[function.name]["ratio"] = figures[function.name]["ms"] / figures[function.name]["baseline_ms"]
        return figures

    def import_costs(self) -> dict[str, list[tuple[str, float]]]:
        """Per function, the packages it imports beyond the baseline, by import time (``-X importtime``, one run)."""
        costs: dict[str, list[tuple[str, float]]] = {}
        for function in functions(self.description):
            _, _, base_log = self.run(BASELINE, function, importtime=True)
            _, _, log = self.run(function, function, importtime=True)
            before = set(imported_modules(base_log))
            totals: dict[str, float] = defaultdict(float)
            for name, microseconds in imported_modules(log).items():
                if name not in before:
                    totals[group(name, self.description["package"])] += microseconds / 1000
            costs[function.name] = sorted(totals.items(), key=lambda item: -item[1])
        return costs


def summary(samples: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "ms": statistics.median(imported + first for imported, first in samples) * 1000,
        "import_ms": statistics.median(imported for imported, _ in samples) * 1000,
        "first_invocation_ms": statistics.median(first for _, first in samples) * 1000,
        "runs": len(samples),
    }


def imported_modules(log: str) -> dict[str, float]:
    """Module -> its own import time in microseconds, from ``-X importtime`` lines."""
    modules = {}
    for line in log.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            modules[name] = float(own)
    return modules


def group(module: str, package: str) -> str:
    """The package a module's cost is reported under: the project's own, Powertools' utilities apart."""
    parts = module.split(".")
    if parts[0] == "aws_lambda_powertools":
        return ".".join(parts[:3])
    if parts[0] == package:
        return package
    return parts[0]
