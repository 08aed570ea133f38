"""The context values a deployment takes besides the stage (`-c NAME=VALUE`), checked before anything is built.

- ``saga_producers=ARN,...``: the IAM roles or users that may publish ``SagaRequested`` on the stage's bus.
  Without it, ``dev`` accepts requests from any principal of the account that may call ``PutEvents``;
  every other stage must name its producers.
- ``saga_operators=ARN,...``: the IAM roles or users that may publish the saga's outcome events besides the
  state machine: whoever runs ``python -m <package>.operate finish`` to complete a stuck saga.
- ``saga_data_key=true``: encrypt the state machine's execution data with a customer managed KMS key.
- ``alarm_email=ADDRESS`` subscribes an address to the stage's alarm topic; ``alarm_topic_arn=ARN`` also sends
  the alarms to a topic of your own (Chatbot, PagerDuty). Every stage but ``dev`` must name one of them.

Standard library only, like ``infra.config``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra import config

PRODUCERS = "saga_producers"
OPERATORS = "saga_operators"
DATA_KEY = "saga_data_key"
ALARM_EMAIL = "alarm_email"
ALARM_TOPIC_ARN = "alarm_topic_arn"
# Context keys without a colon that are not the app's: `cdk acknowledge` records this one in cdk.context.json.
CDK_OWN = frozenset({"stage", "acknowledged-issue-numbers"})
# An IAM role or user, by path and name, in any partition; `*` matches any characters, as in ArnLike.
PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(?:role|user)/[\w+=,.@/*-]{1,512}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class AlarmRecipients:
    email: str | None = None
    topic_arn: str | None = None


@dataclass(frozen=True)
class Options:
    producers: tuple[str, ...] | None
    """None: the account's principals, as an identity policy allows them."""
    operators: tuple[str, ...]
    customer_managed_key: bool
    alarm_recipients: AlarmRecipients


def read(context: Mapping[str, Any], known: Mapping[str, Any], stage: str) -> Options:
    """The options in ``context``; ``known`` is cdk.json's context. A wrong value exits with one line."""
    # The CDK's own keys (feature flags, lookups, the CLI's settings) carry a colon.
    ours = {PRODUCERS, OPERATORS, DATA_KEY, ALARM_EMAIL, ALARM_TOPIC_ARN}
    unknown = sorted(key for key in context if ":" not in key and key not in {*known, *CDK_OWN, *ours})
    if unknown:
        raise SystemExit(
            f"unknown context value {unknown[0]!r}: this app takes -c stage=NAME, -c {ALARM_EMAIL}=ADDRESS, "
            f"-c {ALARM_TOPIC_ARN}=ARN, -c {PRODUCERS}=ARN,..., -c {OPERATORS}=ARN,... and -c {DATA_KEY}=true"
        )
    return Options(
        alarm_recipients=_alarm_recipients(context, stage),
        producers=_producers(context.get(PRODUCERS), stage),
        operators=_principals(OPERATORS, context[OPERATORS]) if OPERATORS in context else (),
        customer_managed_key=_flag(context, DATA_KEY),
    )


def _alarm_recipients(context: Mapping[str, Any], stage: str) -> AlarmRecipients:
    email, topic_arn = context.get(ALARM_EMAIL) or None, context.get(ALARM_TOPIC_ARN) or None
    if email is not None and not (isinstance(email, str) and EMAIL.fullmatch(email)):
        raise SystemExit(f"{ALARM_EMAIL} {email!r} is not an email address")
    if topic_arn is not None and not (isinstance(topic_arn, str) and TOPIC_ARN.fullmatch(topic_arn)):
        raise SystemExit(f"{ALARM_TOPIC_ARN} {topic_arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    if stage != config.DEFAULT_STAGE and not (email or topic_arn):
        raise SystemExit(
            f"stage {stage!r} would alarm no one: give -c {ALARM_EMAIL}=ADDRESS, or -c {ALARM_TOPIC_ARN}=ARN of an "
            "SNS topic of yours (Chatbot, PagerDuty)"
        )
    return AlarmRecipients(email=email, topic_arn=topic_arn)


def _producers(value: Any, stage: str) -> tuple[str, ...] | None:
    if value is None:
        if stage == config.DEFAULT_STAGE:
            return None
        raise SystemExit(
            f"stage {stage!r} needs -c {PRODUCERS}=ARN,...: the IAM roles or users that may request sagas on its bus"
        )
    return _principals(PRODUCERS, value)


def _principals(key: str, value: Any) -> tuple[str, ...]:
    principals = tuple(arn.strip() for arn in str(value).split(","))
    for arn in principals:
        if not PRINCIPAL_ARN.fullmatch(arn):
            raise SystemExit(f"{key}: {arn!r} is not an IAM role or user ARN (arn:aws:iam::123456789012:role/NAME)")
    return principals


def _flag(context: Mapping[str, Any], key: str) -> bool:
    value = str(context.get(key, "false")).lower()
    if value not in {"true", "false"}:
        raise SystemExit(f"{key} must be true or false, not {context[key]!r}")
    return value == "true"
