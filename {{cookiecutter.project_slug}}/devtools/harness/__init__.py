"""The offline harness: the real state machine and handlers in moto, on a real PostgreSQL (``runner``)."""
