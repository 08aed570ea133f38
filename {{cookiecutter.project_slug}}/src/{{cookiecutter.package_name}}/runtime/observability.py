"""Powertools logger, tracer and metrics, configured once for the whole package.

The service name comes from ``POWERTOOLS_SERVICE_NAME``, set per function by the
infrastructure; logs are structured JSON and never include the event (it may hold PII).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "{{ cookiecutter | saga_model | attr('title') }}"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
