{%- set saga = cookiecutter | saga_model -%}
"""Powertools logger, tracer and metrics, configured once for the whole package.

The service name (``POWERTOOLS_SERVICE_NAME``) and the metrics namespace of the stage
(``POWERTOOLS_METRICS_NAMESPACE``) are set per function by the infrastructure; logs are
structured JSON and never include the event (it may hold PII); for the same reason the
infrastructure has the tracer record neither results nor exceptions, only timings and calls.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

# The libraries whose calls become X-Ray subsegments: AWS SDK calls and plain HTTP. Add one the
# business code uses (requests, httpx...) to trace it too; patching every library X-Ray knows would
# import each installed one at every cold start.{% if saga.database_mode == "rds_proxy" %} X-Ray's pg8000 patch traces pg8000's DB-API connections
# only, not the native interface the database layer uses: SQL time shows in the subsegment of the step's logic.{% endif %}
TRACED_LIBRARIES = ("botocore", "httplib")

logger = Logger()
tracer = Tracer(patch_modules=TRACED_LIBRARIES)
metrics = Metrics()
