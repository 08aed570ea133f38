"""Errors that decide what the state machine does when a step fails.

- ``StepRejected`` (or any subclass you add): a definitive business "no". Nothing
  happened, so only the previous steps are compensated. The step's handler raises it
  to Step Functions under the step's own error name, for example ``PaymentRejected``.
- ``TransientError`` (or any subclass): worth retrying. The state machine retries
  the step with exponential backoff before giving up and compensating.
- Anything else is a crash. The step may have half-happened, so its own
  compensation runs too.
"""


class StepRejected(Exception):
    """A definitive business refusal: the step changed nothing."""


class TransientError(Exception):
    """A temporary failure (throttling, a busy dependency): retry the step."""


class InvalidInput(Exception):
    """The input does not match its model; nothing was done."""
