"""Runtime shared by every Lambda of the saga: errors, payload models, observability, idempotency."""
