"""The one parser from cookiecutter answers to a normalized saga model.

Templates reach it through the Jinja extension, hooks import it directly:
both see the same services, compensations and consumers.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# A saga longer than this is better split into smaller sagas: every step's
# result travels in the execution state (256 KiB limit per payload), the
# failure matrix grows with four tests per step, and a reader can no longer
# follow the compensation chain on one screen.
MAX_STEPS = 10
# Names become Lambda function, log group, metric and table names; keep them
# short enough that the derived AWS names stay under their 64-character limits.
MAX_NAME_LENGTH = 32
# The generated app deploys stages, `-c stage=NAME` with NAME at most MAX_STAGE_LENGTH characters (as
# its infra/config.py says), and names resources <project_slug>-<stage>; the tightest such name, the
# RDS Proxy's, has at most 63 characters.
MAX_STAGE_LENGTH = 16
MAX_SLUG_LENGTH = 63 - len("-") - MAX_STAGE_LENGTH
# The project's SSM parameters are /<project_slug>/<stage>/...: AWS refuses parameter names that start so.
_RESERVED_SLUG_PREFIXES = ("aws", "ssm")

CHOICES = {
    "database_mode": ("data_api", "rds_proxy"),
    "workflow_type": ("STANDARD", "EXPRESS"),
    "lambda_architecture": ("arm64", "x86_64"),
    "python_version": ("3.13", "3.12"),
    "license": ("MIT", "Proprietary"),
}

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
# Modules a generated project imports; a package with one of these names would shadow it.
_RESERVED_PACKAGES = frozenset(
    {"aws_lambda_powertools", "boto3", "botocore", "moto", "pydantic", "hypothesis", "tests", "infra"}
)


class AnswerError(ValueError):
    """An answer that cannot produce a working project. The message names the value and the rule."""


@dataclass(frozen=True)
class Step:
    """One saga step, in execution order: a service of the `services` answer."""

    name: str
    compensation: str | None
    position: int


@dataclass(frozen=True)
class Consumer:
    """An EventBridge consumer of the saga's outcome events; it receives all of them until the user narrows it."""

    name: str


@dataclass(frozen=True)
class SagaModel:
    """Every answer, validated and normalized."""

    project_name: str
    project_slug: str
    package_name: str
    description: str
    author_name: str
    author_email: str
    steps: tuple[Step, ...]
    consumers: tuple[Consumer, ...]
    database_mode: str
    workflow_type: str
    aws_region: str
    lambda_architecture: str
    python_version: str
    license: str

    @property
    def compensated_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.compensation)

    @property
    def title(self) -> str:
        return _pascal(self.package_name)


def normalize_name(raw: str) -> str:
    """Trim, lower-case, and turn runs of spaces and hyphens into one underscore."""
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


def split_list(raw: str) -> list[str]:
    """Split a comma-separated answer, dropping blank entries such as a trailing comma."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse(answers: Mapping[str, object]) -> SagaModel:
    """Validate every answer and build the model, or raise AnswerError naming the first problem."""
    text = {key: _text(answers, key) for key in _TEXT_KEYS}
    for key, allowed in CHOICES.items():
        if text[key] not in allowed:
            raise AnswerError(f"{key} {text[key]!r} is not one of: {', '.join(allowed)}")

    project_name = _one_line(text["project_name"])
    if not project_name:
        raise AnswerError("project_name must not be empty")
    _check_slug(text["project_slug"])
    _check_package(text["package_name"])
    if not _REGION.fullmatch(text["aws_region"]):
        raise AnswerError(f"aws_region {text['aws_region']!r} is not an AWS region name such as us-east-1")
    author_email = text["author_email"].strip()
    if author_email and not _EMAIL.fullmatch(author_email):
        raise AnswerError(f"author_email {author_email!r} is not an e-mail address")

    steps = _parse_steps(text["services"], text["compensations"])
    consumers = _parse_consumers(text["consumers"])
    _check_unique_names(steps, consumers)

    return SagaModel(
        project_name=project_name,
        project_slug=text["project_slug"],
        package_name=text["package_name"],
        description=_one_line(text["description"]),
        author_name=_one_line(text["author_name"]),
        author_email=author_email,
        steps=steps,
        consumers=consumers,
        database_mode=text["database_mode"],
        workflow_type=text["workflow_type"],
        aws_region=text["aws_region"],
        lambda_architecture=text["lambda_architecture"],
        python_version=text["python_version"],
        license=text["license"],
    )


_TEXT_KEYS = (
    "project_name",
    "project_slug",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "services",
    "compensations",
    "consumers",
    "database_mode",
    "workflow_type",
    "aws_region",
    "lambda_architecture",
    "python_version",
    "license",
)


def _text(answers: Mapping[str, object], key: str) -> str:
    if key not in answers:
        raise AnswerError(f"{key} is missing from the answers")
    value = answers[key]
    if not isinstance(value, str):
        raise AnswerError(f"{key} must be text, got {type(value).__name__} {value!r}")
    return value


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _check_name(kind: str, raw: str) -> str:
    name = normalize_name(raw)
    if not _NAME.fullmatch(name):
        raise AnswerError(
            f"{kind} name {raw.strip()!r} (normalized {name!r}) must start with a letter and "
            "contain only letters, digits, spaces, hyphens and underscores"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise AnswerError(f"{kind} name {raw.strip()!r} is a Python keyword")
    if len(name) > MAX_NAME_LENGTH:
        raise AnswerError(f"{kind} name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    return name


def _parse_steps(services_answer: str, compensations_answer: str) -> tuple[Step, ...]:
    names: list[str] = []
    for raw in split_list(services_answer):
        name = _check_name("service", raw)
        if name in names:
            raise AnswerError(f"service {raw.strip()!r} is declared twice (as {name!r})")
        names.append(name)
    if not names:
        raise AnswerError("services must name at least one service, for example 'payment, inventory'")
    if len(names) > MAX_STEPS:
        raise AnswerError(
            f"services declares {len(names)} services; at most {MAX_STEPS} fit one saga "
            "(split a longer process into several sagas)"
        )

    compensations: dict[str, str] = {}
    for entry in split_list(compensations_answer):
        if "=" not in entry:
            raise AnswerError(
                f"compensation {entry!r} must be written service=compensation_name, for example payment=refund_payment"
            )
        raw_service, _, raw_compensation = entry.partition("=")
        service = normalize_name(raw_service)
        if service not in names:
            raise AnswerError(
                f"compensation {entry!r} names service {raw_service.strip()!r}, which is not in services "
                f"({', '.join(names)})"
            )
        if service in compensations:
            raise AnswerError(f"service {service!r} has more than one compensation")
        if not raw_compensation.strip():
            raise AnswerError(f"compensation {entry!r} has no compensation name after '='")
        compensations[service] = _check_name("compensation", raw_compensation)

    return tuple(
        Step(name=name, compensation=compensations.get(name), position=index)
        for index, name in enumerate(names, start=1)
    )


def _parse_consumers(consumers_answer: str) -> tuple[Consumer, ...]:
    consumers: list[Consumer] = []
    for raw in split_list(consumers_answer):
        name = _check_name("consumer", raw)
        if any(consumer.name == name for consumer in consumers):
            raise AnswerError(f"consumer {raw.strip()!r} is declared twice (as {name!r})")
        consumers.append(Consumer(name=name))
    return tuple(consumers)


def _check_unique_names(steps: tuple[Step, ...], consumers: tuple[Consumer, ...]) -> None:
    """Every service, compensation and consumer becomes a Lambda function: their names must differ."""
    seen: dict[str, str] = {}
    named = [("service", step.name) for step in steps]
    named += [("compensation", step.compensation) for step in steps if step.compensation]
    named += [("consumer", consumer.name) for consumer in consumers]
    for kind, name in named:
        if name in seen:
            raise AnswerError(
                f"{kind} name {name!r} is already used by a {seen[name]}; "
                "services, compensations and consumers need distinct names"
            )
        seen[name] = kind


def _check_slug(slug: str) -> None:
    if not _SLUG.fullmatch(slug) or len(slug) > MAX_SLUG_LENGTH:
        raise AnswerError(
            f"project_slug {slug!r} must be lower-case letters, digits and single hyphens, start with a "
            f"letter and be at most {MAX_SLUG_LENGTH} characters (it names the folder and, followed by a stage "
            f"of up to {MAX_STAGE_LENGTH} characters, the stacks, the event bus and the RDS Proxy)"
        )
    if slug.startswith(_RESERVED_SLUG_PREFIXES):
        raise AnswerError(
            f"project_slug {slug!r} must not start with {' or '.join(_RESERVED_SLUG_PREFIXES)}: it begins the "
            "names of the project's SSM parameters, and AWS reserves those prefixes for its own"
        )


def _check_package(package: str) -> None:
    if not _NAME.fullmatch(package) or keyword.iskeyword(package):
        raise AnswerError(
            f"package_name {package!r} must be a Python identifier: lower-case letters, digits and "
            "underscores, starting with a letter, and not a keyword"
        )
    if package in sys.stdlib_module_names or package in _RESERVED_PACKAGES:
        raise AnswerError(f"package_name {package!r} would shadow the module of the same name")
