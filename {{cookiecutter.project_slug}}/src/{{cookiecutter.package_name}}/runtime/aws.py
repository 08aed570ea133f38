"""The AWS clients of this execution environment: one boto3 session, each client created once, on first use.

The first client of a session loads botocore's endpoint table and looks through its data folders;
the next clients of the same session reuse both, so they cost a few milliseconds where a client of
a new session costs tens. Clients may be shared between threads once created; creating them is
kept to one thread at a time.
"""

import functools
import threading
from typing import Any

import boto3

_lock = threading.RLock()


def session() -> boto3.session.Session:
    """The session every client of this execution environment comes from."""
    with _lock:
        return _session()


def client(service: str) -> Any:
    """The client of ``service``, created on first use and then reused."""
    with _lock:
        return _client(service)


def prepare(*services: str) -> None:
    """Create these clients now: at import, Lambda's init phase, which no function timeout counts."""
    for service in services:
        client(service)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _client(service: str) -> Any:
    return _session().client(service)  # type: ignore[call-overload]
