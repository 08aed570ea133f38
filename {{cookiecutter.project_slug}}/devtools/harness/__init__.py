"""The offline harness: the real state machine and the real handlers, in moto, against a real PostgreSQL.

``runner.SagaHarness`` deploys and runs the saga; ``account`` is the offline AWS account it is
deployed in; ``faults`` is what can be made to go wrong; ``runs`` is what a run reports;
``moto_patches`` is every change made to moto's internals. Importing this package imports no
handler, so the environment can still be set before the handlers read it.
"""
