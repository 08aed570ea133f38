{%- set saga = cookiecutter | saga_model -%}
"""What the infrastructure is built from: the saga's steps and consumers, and the project settings."""

from dataclasses import dataclass
from typing import Literal

WorkflowType = Literal["STANDARD", "EXPRESS"]

PROJECT = "{{ saga.project_slug }}"
PACKAGE = "{{ saga.package_name }}"
REGION = "{{ saga.aws_region }}"
WORKFLOW_TYPE: WorkflowType = "{{ saga.workflow_type }}"
DATABASE_MODE = "{{ saga.database_mode }}"
LAMBDA_ARCHITECTURE = "{{ saga.lambda_architecture }}"
PYTHON_VERSION = "{{ saga.python_version }}"
# The Powertools release the tests run with; the Lambda layer of the same version is used in AWS.
POWERTOOLS_VERSION = "3.37.0"
METRICS_NAMESPACE = "{{ saga.title }}"
# Every function's memory; Lambda bills duration per GB-second of it.
LAMBDA_MEMORY_MB = 512


@dataclass(frozen=True)
class Step:
    """A saga step: its action function and, when it can be undone, its compensation function."""

    name: str
    title: str
    compensation: str | None = None
    compensation_title: str | None = None


STEPS = (
{%- for service in saga.services %}
    Step(
        name="{{ service.name }}",
        title="{{ service.title }}",
{%- if service.compensation %}
        compensation="{{ service.compensation }}",
        compensation_title="{{ service.compensation_title }}",
{%- endif %}
    ),
{%- endfor %}
)

# Whether any step can be undone: a saga without compensations has no compensation dead-letter queue.
COMPENSATED = any(step.compensation for step in STEPS)

CONSUMERS: tuple[str, ...] = {{ saga.consumers | map(attribute="name") | python_tuple }}
