{%- set saga = cookiecutter | saga_model -%}
"""Where and how the saga is deployed. What it is made of (steps, consumers) is ``saga.py``.

Standard library only: the README's tooling reads it without the CDK.
"""

PROJECT = "{{ saga.project_slug }}"
REGION = "{{ saga.aws_region }}"
DATABASE_MODE = "{{ saga.database_mode }}"
LAMBDA_ARCHITECTURE = "{{ saga.lambda_architecture }}"
PYTHON_VERSION = "{{ saga.python_version }}"
# The Powertools release the tests run with; the Lambda layer of the same version is used in AWS.
POWERTOOLS_VERSION = "3.37.0"
METRICS_NAMESPACE = "{{ saga.title }}"
# Every function's memory; Lambda bills duration per GB-second of it.
LAMBDA_MEMORY_MB = 512
