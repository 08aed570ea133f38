"""The answers parser: normalization, the model it builds, and every validation rule."""

import re

import pytest

from saga_template.model import (
    MAX_SLUG_LENGTH,
    MAX_STAGE_LENGTH,
    MAX_STEPS,
    AnswerError,
    normalize_name,
    parse,
    split_list,
)
from tests.conftest import TEMPLATE_ROOT, answers

README = (TEMPLATE_ROOT / "README.md").read_text()


def test_defaults_build_the_documented_saga() -> None:
    saga = parse(answers())
    assert [(s.name, s.compensation, s.position) for s in saga.steps] == [
        ("payment", "cancel_payment", 1),
        ("inventory", "cancel_inventory", 2),
        ("shipping", None, 3),
    ]
    assert [c.name for c in saga.consumers] == ["notifications", "analytics"]
    assert saga.title == "OrderSaga"
    assert [s.name for s in saga.compensated_steps] == ["payment", "inventory"]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("Payment-Service", "payment_service"), (" LOYALTY ", "loyalty"), ("fraud  check", "fraud_check"), ("a_b", "a_b")],
)
def test_names_are_normalized_to_snake_case(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


def test_odd_but_valid_names_are_accepted() -> None:
    saga = parse(
        answers(
            services="Payment-Service,  LOYALTY , fraud check",
            compensations="payment service=Refund-Payment, loyalty = revoke points",
            consumers=" Data-Lake ,",
        )
    )
    assert [(s.name, s.compensation) for s in saga.steps] == [
        ("payment_service", "refund_payment"),
        ("loyalty", "revoke_points"),
        ("fraud_check", None),
    ]
    assert [c.name for c in saga.consumers] == ["data_lake"]


def test_blank_list_entries_are_ignored() -> None:
    assert split_list(" a, ,b ,") == ["a", "b"]


def test_consumers_may_be_empty_and_free_text_is_one_line() -> None:
    saga = parse(answers(consumers="", compensations="", description="two\nlines\t here", project_name=" A  B "))
    assert saga.consumers == ()
    assert saga.compensated_steps == ()
    assert saga.description == "two lines here"
    assert saga.project_name == "A B"


INVALID = [
    ({"services": ""}, "services must name at least one service"),
    ({"services": " , "}, "services must name at least one service"),
    ({"services": "payment, Payment"}, "service 'Payment' is declared twice (as 'payment')"),
    ({"services": "pay-ment, pay ment", "compensations": ""}, "is declared twice (as 'pay_ment')"),
    ({"services": "3ds", "compensations": ""}, "service name '3ds' (normalized '3ds') must start with a letter"),
    ({"services": "pay$", "compensations": ""}, "service name 'pay$'"),
    ({"services": "paiement_é", "compensations": ""}, "must start with a letter and contain only letters"),
    ({"services": "class", "compensations": ""}, "service name 'class' is a Python keyword"),
    ({"services": "match", "compensations": ""}, "service name 'match' is a Python keyword"),
    ({"services": "a" * 33, "compensations": ""}, "longer than 32 characters"),
    (
        {"services": ", ".join(f"s{i}" for i in range(MAX_STEPS + 1)), "compensations": ""},
        f"at most {MAX_STEPS} fit one saga",
    ),
    ({"compensations": "shipping=cancel, billing=refund"}, "names service 'billing', which is not in services"),
    ({"compensations": "payment"}, "compensation 'payment' must be written service=compensation_name"),
    ({"compensations": "payment="}, "has no compensation name after '='"),
    ({"compensations": "payment=a, payment=b"}, "service 'payment' has more than one compensation"),
    ({"compensations": "payment=inventory"}, "compensation name 'inventory' is already used by a service"),
    ({"compensations": "payment=undo, inventory=undo"}, "compensation name 'undo' is already used by a compensation"),
    ({"consumers": "cancel_payment"}, "consumer name 'cancel_payment' is already used by a compensation"),
    ({"consumers": "payment"}, "consumer name 'payment' is already used by a service"),
    ({"consumers": "audit, Audit"}, "consumer 'Audit' is declared twice"),
    ({"consumers": "bad!name"}, "consumer name 'bad!name'"),
    ({"project_name": "  "}, "project_name must not be empty"),
    ({"project_slug": "Order Saga"}, "project_slug 'Order Saga' must be lower-case letters"),
    ({"project_slug": "../escape"}, "project_slug '../escape'"),
    ({"project_slug": "order-"}, "project_slug 'order-'"),
    ({"project_slug": "a" * (MAX_SLUG_LENGTH + 1)}, f"be at most {MAX_SLUG_LENGTH} characters"),
    ({"project_slug": "aws-saga"}, "project_slug 'aws-saga' must not start with aws or ssm"),
    ({"project_slug": "ssm"}, "project_slug 'ssm' must not start with aws or ssm"),
    ({"package_name": "order-saga"}, "package_name 'order-saga' must be a Python identifier"),
    ({"package_name": "import"}, "package_name 'import' must be a Python identifier"),
    ({"package_name": "json"}, "package_name 'json' would shadow the module of the same name"),
    ({"package_name": "boto3"}, "package_name 'boto3' would shadow"),
    ({"aws_region": "mars"}, "aws_region 'mars' is not an AWS region name"),
    ({"author_email": "not an email"}, "author_email 'not an email' is not an e-mail address"),
    ({"database_mode": "dynamodb"}, "database_mode 'dynamodb' is not one of: data_api, rds_proxy"),
    ({"workflow_type": "standard"}, "workflow_type 'standard' is not one of: STANDARD, EXPRESS"),
]


@pytest.mark.parametrize(("overrides", "message"), INVALID)
def test_invalid_answers_are_refused_with_the_value_and_the_rule(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(AnswerError) as raised:
        parse(answers(**overrides))
    assert message in str(raised.value)


def test_missing_and_non_text_answers_are_refused() -> None:
    incomplete = answers()
    del incomplete["services"]
    with pytest.raises(AnswerError, match="services is missing"):
        parse(incomplete)
    with pytest.raises(AnswerError, match="services must be text"):
        parse({**answers(), "services": {"payment": "refund"}})


def readme_rule(answer: str) -> str:
    """The notes column of ``answer``'s row in the README's answer table."""
    (row,) = [line for line in README.splitlines() if line.startswith(f"| `{answer}` |")]
    return row.rsplit("|", 2)[-2]


def refused(**overrides: str) -> bool:
    try:
        parse(answers(**overrides))
    except AnswerError:
        return True
    return False


def test_the_readme_states_the_slug_rules_the_parser_enforces() -> None:
    rule = readme_rule("project_slug")
    longest = int(re.search(r"at most (\d+) characters", rule).group(1))  # type: ignore[union-attr]
    assert (refused(project_slug="s" * longest), refused(project_slug="s" * (longest + 1))) == (False, True)
    assert f"a stage of up to {MAX_STAGE_LENGTH}" in rule
    assert "starting with a letter" in rule
    assert refused(project_slug="1-saga")
    prefixes = re.findall(r"`(\w+)`", rule.split("not starting with")[1])
    assert prefixes
    assert all(refused(project_slug=f"{prefix}-saga") for prefix in prefixes)


def test_the_readme_states_the_limits_on_steps_and_names_the_parser_enforces() -> None:
    most = int(re.search(r"1 to (\d+)", readme_rule("services")).group(1))  # type: ignore[union-attr]
    services = [f"s{i}" for i in range(most + 1)]
    assert (refused(services=",".join(services[:most])), refused(services=",".join(services))) == (False, True)
    assert refused(services=" , ")
    longest = int(re.search(r"be at most (\d+) characters", README).group(1))  # type: ignore[union-attr]
    assert (refused(consumers="c" * longest), refused(consumers="c" * (longest + 1))) == (False, True)
    assert "not a keyword" in readme_rule("package_name")
    assert "shadow" in readme_rule("package_name")
    assert (refused(package_name="class"), refused(package_name="json")) == (True, True)
