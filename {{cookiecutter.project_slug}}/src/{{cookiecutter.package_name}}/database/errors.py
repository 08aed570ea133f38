"""Database failures as the saga sees them.
{%- if cookiecutter.database_mode == "data_api" %}

``DatabaseNotReady`` means nothing was committed: the database is resuming from a pause (the Data
API answers ``DatabaseResumingException``) or its writer is being replaced
(``DatabaseUnavailableException``). The state machine waits for it with a budget of its own, at
least a minute, then tries the step again.
{%- else %}

``DatabaseNotReady`` means nothing was sent: no transaction could be started in time through the
proxy (the cluster is failing over or out of reach, or every database connection is busy). The
state machine waits for it with a budget of its own, at least a minute, then tries the step again.
{%- endif %}

The other two are crashes: the state machine runs the step's compensation too, because the
effect may or may not have been written. A transaction is never half-written: it commits whole
or the database rolls it back.
"""

from {{ cookiecutter.package_name }}.runtime.errors import DatabaseNotReady

__all__ = ["DatabaseError", "DatabaseNotReady", "DatabaseUnavailable"]


class DatabaseError(Exception):
    """A statement failed (a bug in the SQL, a violated constraint...)."""


class DatabaseUnavailable(DatabaseError):
    """The connection died during a transaction, or the database answered that it is unavailable."""
