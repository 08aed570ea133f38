{%- set saga = cookiecutter | saga_model -%}
"""What the functions import when they start: every import is paid again at each cold start."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import packaging

# Imported by no function: the envelope is checked by hand, X-Ray patches only the AWS SDK and HTTP, its
# wrapt is the assets' 1.x (2.x imports asyncio), and the development tools stay out of Lambda.
NOT_AT_COLD_START = (
    "pydantic",
    "moto",
    "requests",
    "sqlite3",
    "asyncio",
    "aws_xray_sdk.ext.sqlite3",
    "aws_xray_sdk.ext.psycopg",
)
{%- if saga.database_mode == "data_api" %}
# The Data API is HTTPS: no PostgreSQL driver.
DRIVERS = ("psycopg", "pg8000")
{%- else %}
# pg8000 is the functions' driver; psycopg, the tools'.
DRIVERS = ("psycopg",)
{%- endif %}
EVERY_ENTRY_POINT = """
import json, sys
from {{ saga.package_name }} import handlers, saga, starter
from {{ saga.package_name }}.database import migrate
for step in saga.STEPS:
    handlers.step(step.name)
for consumer in saga.CONSUMERS:
    handlers.consumer(consumer.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_no_function_imports_what_it_does_not_use_and_tracing_is_on() -> None:
    source = str(Path(__file__).parents[1] / "src")
    # The dependencies the assets vendor come first, as in /var/task.
    path = os.pathsep.join([str(packaging.dependencies()), source])
    environment = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    environment |= {"PYTHONPATH": path, "LAMBDA_TASK_ROOT": source, "AWS_LAMBDA_FUNCTION_NAME": "cold-start"}
    environment["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    command = [sys.executable, "-c", EVERY_ENTRY_POINT]
    printed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    assert printed.returncode == 0, printed.stderr
    modules = json.loads(printed.stdout.splitlines()[-1])
    denied = [name for name in modules for top in (*NOT_AT_COLD_START, *DRIVERS) if f"{name}.".startswith(f"{top}.")]
    assert denied == []
    assert "aws_xray_sdk.ext.botocore.patch" in modules


@pytest.mark.parametrize(
    ("role", "clients"),
    [
{%- if saga.database_mode == "data_api" %}
        ("SAGA_STEP", ["dynamodb", "rds-data"]),
{%- else %}
        ("SAGA_STEP", ["dynamodb"]),
{%- endif %}
        ("SAGA_CONSUMER", ["dynamodb"]),
    ],
)
def test_a_function_creates_its_clients_while_lambda_initialises_it(role: str, clients: list[str]) -> None:
    source = str(Path(__file__).parents[1] / "src")
    code = "import boto3.session as s, json; made = []; new = s.Session.client\n"
    code += "s.Session.client = lambda self, name, *a, **k: made.append(name) or new(self, name, *a, **k)\n"
    code += "from {{ cookiecutter.package_name }} import handlers; print(json.dumps(made))"
    environment = {**os.environ, "PYTHONPATH": source, "AWS_LAMBDA_FUNCTION_NAME": "init", role: "any"}
    printed = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == clients
