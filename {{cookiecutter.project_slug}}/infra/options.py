"""The context values a deployment takes besides the stage (`-c NAME=VALUE`), checked before anything is built.

- ``saga_producers=ARN,...``: the IAM roles or users that may publish ``SagaRequested`` on the stage's bus.
  Without it, ``dev`` accepts requests from any principal of the account that may call ``PutEvents``;
  every other stage must name its producers.
- ``saga_data_key=true``: encrypt the state machine's execution data with a customer managed KMS key.

Standard library only, like ``infra.config``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra import config

PRODUCERS = "saga_producers"
DATA_KEY = "saga_data_key"
# Context keys without a colon that are not the app's: `cdk acknowledge` records this one in cdk.context.json.
CDK_OWN = frozenset({"stage", "acknowledged-issue-numbers"})
# An IAM role or user, by path and name, in any partition; `*` matches any characters, as in ArnLike.
PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(?:role|user)/[\w+=,.@/*-]{1,512}")


@dataclass(frozen=True)
class Options:
    producers: tuple[str, ...] | None
    """None: the account's principals, as an identity policy allows them."""
    customer_managed_key: bool


def read(context: Mapping[str, Any], known: Mapping[str, Any], stage: str) -> Options:
    """The options in ``context``; ``known`` is cdk.json's context. A wrong value exits with one line."""
    # The CDK's own keys (feature flags, lookups, the CLI's settings) carry a colon.
    unknown = sorted(key for key in context if ":" not in key and key not in {*known, *CDK_OWN, PRODUCERS, DATA_KEY})
    if unknown:
        raise SystemExit(
            f"unknown context value {unknown[0]!r}: this app takes -c stage=NAME, -c {PRODUCERS}=ARN,... "
            f"and -c {DATA_KEY}=true"
        )
    return Options(producers=_producers(context.get(PRODUCERS), stage), customer_managed_key=_flag(context, DATA_KEY))


def _producers(value: Any, stage: str) -> tuple[str, ...] | None:
    if value is None:
        if stage == config.DEFAULT_STAGE:
            return None
        raise SystemExit(
            f"stage {stage!r} needs -c {PRODUCERS}=ARN,...: the IAM roles or users that may request sagas on its bus"
        )
    producers = tuple(arn.strip() for arn in str(value).split(","))
    for arn in producers:
        if not PRINCIPAL_ARN.fullmatch(arn):
            raise SystemExit(
                f"{PRODUCERS}: {arn!r} is not an IAM role or user ARN (arn:aws:iam::123456789012:role/NAME)"
            )
    return producers


def _flag(context: Mapping[str, Any], key: str) -> bool:
    value = str(context.get(key, "false")).lower()
    if value not in {"true", "false"}:
        raise SystemExit(f"{key} must be true or false, not {context[key]!r}")
    return value == "true"
