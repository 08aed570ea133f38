"""Database failures as the saga sees them.

Neither is a ``StepRejected`` or a ``TransientError``, so a step that raises one
is a crash: the state machine runs its compensation too, because the effect may
or may not have been written. A transaction is never half-written: it commits
whole or the database rolls it back.
"""


class DatabaseError(Exception):
    """A statement failed (a bug in the SQL, a violated constraint...)."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached, or the connection died during a transaction."""
