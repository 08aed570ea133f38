{%- set saga = cookiecutter | saga_model -%}
"""Where and how the saga is deployed. What it is made of (steps, consumers) is ``saga.py``.

Standard library only: the README's tooling reads it without the CDK.
"""

import re

PROJECT = "{{ saga.project_slug }}"
REGION = "{{ saga.aws_region }}"
DATABASE_MODE = "{{ saga.database_mode }}"
LAMBDA_ARCHITECTURE = "{{ saga.lambda_architecture }}"
PYTHON_VERSION = "{{ saga.python_version }}"
# The Powertools release the tests run with; the Lambda layer of the same version is used in AWS.
POWERTOOLS_VERSION = "3.37.0"
# Where AWS publishes that layer's ARN for the functions' architecture and runtime, in every region.
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/{LAMBDA_ARCHITECTURE}/python{PYTHON_VERSION}/{POWERTOOLS_VERSION}"
)
METRICS_NAMESPACE = "{{ saga.title }}"
# Every function's memory; Lambda bills duration per GB-second of it.
LAMBDA_MEMORY_MB = 512

# A stage is one independent deployment of the saga (`cdk deploy --all -c stage=NAME`): its stacks
# and every resource given a name carry it, so that several stages share an account and region.
DEFAULT_STAGE = "dev"
{%- if saga.database_mode == "rds_proxy" %}
# The RDS Proxy's name, <project>-<stage>, is the tightest: 63 characters at most. The project name
# is at most 46 characters long, so a stage may have 16.
{%- else %}
# Sized for the tightest name a stage may need, an RDS Proxy's (<project>-<stage>, 63 characters at
# most), so that the project can move to RDS Proxy access. The project name is at most 46
# characters long, so a stage may have 16.
{%- endif %}
MAX_STAGE_LENGTH = 16
STAGE = re.compile(r"[a-z](?:-?[a-z0-9])*")


def metrics_namespace(stage: str) -> str:
    """The CloudWatch namespace of the stage's own metrics: each stage's alarms read its own."""
    return f"{METRICS_NAMESPACE}/{stage}"


def stage_prefix(stage: str) -> str:
    """The name of the stage's event bus{% if saga.database_mode == "rds_proxy" %}, RDS Proxy{% endif %} and dashboard, and the start of its stacks' names."""
    return f"{PROJECT}-{stage}"
