"""Errors that decide what the state machine does when a step or a compensation fails.

Step Functions matches errors by name, the exception's class name; the handler raises each
kind under the one name the definition expects, whatever subclass the business code raised.

- ``StepRejected`` (or a subclass): a definitive business "no". Nothing happened, so only the
  previous steps are compensated. It reaches Step Functions as the step's own rejection error,
  for example ``PaymentRejected``.
- ``TransientError`` (or a subclass): worth retrying soon; retried with backoff and jitter.
- ``InvalidInput``: the request does not match the saga's envelope; nothing was done.
- ``StepInProgress`` and ``IdempotencyStoreUnavailable``: another invocation of the same step is
  running (a duplicate delivery), or the idempotency table cannot be reached. Nothing was done by
  this invocation; retried until the other one must have ended.
- ``DatabaseNotReady``: the database cannot take requests yet (a paused Aurora resuming, a
  transaction that cannot be started in time); nothing was sent. Waited for, at least a minute.
- ``StepCancelled``: the step's compensation has already taken hold of it (a late, duplicate or
  re-run invocation of the action): it must not act. Routed like a crash, so the saga compensates
  the step rather than carrying on as if it were done.
- Anything else is a crash: the step may have half-happened, so its own compensation runs too.
"""


class StepRejected(Exception):
    """A definitive business refusal: the step changed nothing."""


class TransientError(Exception):
    """A temporary failure (throttling, a busy dependency): retry the step."""


class InvalidInput(Exception):
    """The input does not match the saga's envelope; nothing was done."""


class StepInProgress(Exception):
    """Another invocation holds this step for this saga; retry once it must have ended."""


class IdempotencyStoreUnavailable(Exception):
    """The idempotency table could not be read or written; nothing was done, retry."""


class DatabaseNotReady(Exception):
    """The database cannot take requests yet; nothing was sent. Retried for at least a minute."""


class StepCancelled(Exception):
    """The step's compensation has taken hold of it for this saga: the action did nothing."""
