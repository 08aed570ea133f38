{%- set saga = cookiecutter | saga_model -%}
"""The database every step writes its effects to, behind two functions.

``execute(sql, params)`` runs one statement with named parameters (``:name``) and
returns its rows as dictionaries; ``transaction()`` groups statements so they
commit together or not at all. A statement outside ``transaction()`` commits on
its own. Steps and business logic use only these, never the access mode.
{%- if saga.database_mode == "data_api" %}

This project reaches Aurora PostgreSQL through the RDS Data API (``data_api``):
HTTPS calls, no connection to manage, no VPC for the Lambda functions.
{%- else %}

This project reaches Aurora PostgreSQL through RDS Proxy (``rds_proxy``): one
connection per execution environment, IAM authentication, TLS.
{%- endif %}
"""
{% if saga.database_mode == "data_api" %}
from {{ cookiecutter.package_name }}.database.data_api import execute, transaction
from {{ cookiecutter.package_name }}.database.errors import DatabaseError, DatabaseNotReady, DatabaseUnavailable
{%- else %}
from {{ cookiecutter.package_name }}.database.errors import DatabaseError, DatabaseNotReady, DatabaseUnavailable
from {{ cookiecutter.package_name }}.database.rds_proxy import execute, transaction
{%- endif %}

__all__ = ["DatabaseError", "DatabaseNotReady", "DatabaseUnavailable", "execute", "transaction"]
