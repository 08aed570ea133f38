"""The generated state machine definition: order, retries, catches, compensation chain, placeholders."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from saga_template import asl, hooks
from saga_template.model import parse
from tests.conftest import TEMPLATE_ROOT, answers

PROJECT_TEMPLATE = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}"

TEN = {
    "services": "a1, a2, a3, a4, a5, a6, a7, a8, a9, a10",
    "compensations": "a1=u1, a2=u2, a4=u4, a7=u7, a10=u10",
}


def definition(**extra: str) -> dict[str, Any]:
    return asl.build_definition(parse(answers(**extra)))


def tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def walk_compensations(states: dict[str, Any], entry: str) -> list[str]:
    """The compensation states run from ``entry`` until the chain ends."""
    names, current = [], entry
    while states[current]["Type"] == "Task" and states[current]["Resource"] == asl.LAMBDA_INVOKE:
        names.append(current)
        current = states[current]["Next"]
    return names


def failure_entry(states: dict[str, Any], step: str, error: str) -> str:
    """Where the chain starts when ``step`` fails with ``error``."""
    for catcher in states[step]["Catch"]:
        if error in catcher["ErrorEquals"] or catcher["ErrorEquals"] == ["States.ALL"]:
            return str(states[catcher["Next"]]["Next"])
    raise AssertionError(f"{step} does not catch {error}")


def test_steps_run_in_the_declared_order_after_validation_and_the_start_record() -> None:
    states = definition()["States"]
    order, current = [], "Validate input"
    while "Next" in states[current] or "Choices" in states[current]:
        order.append(current)
        current = states[current]["Next"] if "Next" in states[current] else states[current]["Choices"][0]["Next"]
    order.append(current)
    assert order == [
        "Validate input",
        "Start saga",
        "Record STARTED",
        "Payment",
        "Inventory",
        "Shipping",
        "Record SUCCEEDED",
        "Publish SagaSucceeded",
        "Saga succeeded",
    ]


def test_each_step_retries_only_transient_errors_with_bounded_jittered_backoff() -> None:
    states = definition()["States"]
    for name in ("Payment", "Inventory", "Shipping"):
        (retry,) = states[name]["Retry"]
        assert retry["ErrorEquals"] == list(asl.TRANSIENT_ERRORS)
        assert retry["BackoffRate"] == 2
        assert retry["JitterStrategy"] == "FULL"
        assert 0 < retry["MaxAttempts"] <= 5
        assert retry["MaxDelaySeconds"] > 0
        assert "States.ALL" not in retry["ErrorEquals"]
        assert "Lambda.Unknown" not in retry["ErrorEquals"]


def test_a_rejection_undoes_the_previous_steps_and_anything_else_the_step_too() -> None:
    states = definition()["States"]
    payment, inventory = states["Payment"]["Catch"], states["Inventory"]["Catch"]
    assert payment[0]["ErrorEquals"] == ["PaymentRejected", "InvalidInput"]
    assert payment[-1]["ErrorEquals"] == ["States.ALL"]
    assert inventory[0]["ErrorEquals"] == ["InventoryRejected", "InvalidInput"]

    assert walk_compensations(states, failure_entry(states, "Payment", "PaymentRejected")) == []
    assert walk_compensations(states, failure_entry(states, "Payment", "States.ALL")) == ["RefundPayment"]
    assert walk_compensations(states, failure_entry(states, "Inventory", "InventoryRejected")) == ["RefundPayment"]
    assert walk_compensations(states, failure_entry(states, "Inventory", "States.Timeout")) == [
        "ReleaseInventory",
        "RefundPayment",
    ]
    # Shipping has no compensation: one catch, and the chain starts at the step before it.
    assert [catcher["ErrorEquals"] for catcher in states["Shipping"]["Catch"]] == [["States.ALL"]]
    assert walk_compensations(states, failure_entry(states, "Shipping", "ShippingRejected")) == [
        "ReleaseInventory",
        "RefundPayment",
    ]


def test_every_failure_records_the_step_error_and_cause() -> None:
    states = definition()["States"]
    for name in ("Payment rejected", "Payment failed", "Inventory rejected", "Inventory failed", "Shipping failed"):
        step = name.split()[0].lower()
        assert states[name]["Type"] == "Pass"
        assert states[name]["Parameters"] == {"step": step, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause"}
        assert states[name]["ResultPath"] == "$.failure"


def test_compensations_retry_harder_and_go_on_after_a_failure() -> None:
    states = definition()["States"]
    step_attempts = states["Payment"]["Retry"][0]["MaxAttempts"]
    for name, following in (("ReleaseInventory", "RefundPayment"), ("RefundPayment", "Check compensations")):
        refusal, retry = states[name]["Retry"]
        assert refusal["MaxAttempts"] == 0
        assert retry["ErrorEquals"] == ["States.ALL"]
        assert retry["MaxAttempts"] > step_attempts
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert catch["Next"] == following == states[name]["Next"]
        assert catch["ResultPath"].startswith("$.compensation_errors.")


def test_a_failed_compensation_goes_to_the_dead_letter_queue_then_fails_with_compensation_failed() -> None:
    states = definition()["States"]
    check = states["Check compensations"]
    assert check["Choices"][0]["Next"] == "Send state to DLQ"
    assert check["Default"] == "Record FAILED"
    dlq = states["Send state to DLQ"]
    assert dlq["Resource"] == asl.SQS_SEND_MESSAGE
    assert dlq["Parameters"]["MessageBody"]["state.$"] == "$"
    assert states["Record COMPENSATION_FAILED"]["Next"] == "Publish SagaCompensationFailed"
    assert states["Publish SagaCompensationFailed"]["Next"] == "Compensation failed"
    assert states["Compensation failed"] == {
        **states["Compensation failed"],
        "Type": "Fail",
        "Error": "CompensationFailed",
    }
    assert states["Saga failed"]["Error"] == "SagaFailed"


def test_outcome_events_carry_the_outcome_model_fields() -> None:
    states = definition()["States"]
    for status, detail_type in (("SUCCEEDED", "SagaSucceeded"), ("FAILED", "SagaFailed")):
        (entry,) = states[f"Publish {detail_type}"]["Parameters"]["Entries"]
        assert entry["Source"] == "order_saga.saga"
        assert entry["DetailType"] == detail_type
        assert entry["EventBusName"] == "${EventBusName}"
        assert entry["Detail"]["status"] == status
    failed = states["Publish SagaFailed"]["Parameters"]["Entries"][0]["Detail"]
    assert set(failed) == {"saga_id.$", "status", "failed_step.$", "error.$", "cause.$"}


def test_every_task_has_a_timeout() -> None:
    for name, state in tasks(definition(**TEN)["States"]).items():
        assert state["TimeoutSeconds"] > 0, name


def test_placeholders_are_exactly_the_contract() -> None:
    text = asl.render_definition(parse(answers()))
    assert set(re.findall(r"\$\{(\w+)\}", text)) == {
        "PaymentFunctionArn",
        "InventoryFunctionArn",
        "ShippingFunctionArn",
        "RefundPaymentFunctionArn",
        "ReleaseInventoryFunctionArn",
        "SagaTableName",
        "EventBusName",
        "CompensationDlqUrl",
    }


def test_without_compensations_there_is_no_chain_and_no_dead_letter_queue() -> None:
    states = definition(services="charge", compensations="")["States"]
    assert "Check compensations" not in states
    assert "Send state to DLQ" not in states
    assert states["Charge failed"]["Next"] == "Record FAILED"
    assert "${CompensationDlqUrl}" not in json.dumps(states)


def test_ten_services_grow_the_definition_linearly_with_reverse_compensations() -> None:
    states = definition(**TEN)["States"]
    three = definition()["States"]
    assert len(states) < 4 * len(three)
    entry = failure_entry(states, "A10", "States.ALL")
    assert walk_compensations(states, entry) == ["U10", "U7", "U4", "U2", "U1"]
    assert walk_compensations(states, failure_entry(states, "A6", "A6Rejected")) == ["U4", "U2", "U1"]
    assert walk_compensations(states, failure_entry(states, "A1", "A1Rejected")) == []


@pytest.mark.parametrize("workflow_type", ["STANDARD", "EXPRESS"])
def test_both_workflow_types_render_and_express_is_tighter(workflow_type: str) -> None:
    states = definition(workflow_type=workflow_type)["States"]
    timing = asl.TIMINGS[workflow_type]
    assert states["Payment"]["TimeoutSeconds"] == timing.step_timeout
    assert states["RefundPayment"]["TimeoutSeconds"] == timing.compensation_timeout
    assert asl.TIMINGS["EXPRESS"].step_timeout < asl.TIMINGS["STANDARD"].step_timeout


def test_malformed_input_is_refused_before_anything_is_recorded() -> None:
    document = definition()
    assert document["StartAt"] == "Validate input"
    validate = document["States"]["Validate input"]
    assert validate["Default"] == "Invalid input"
    assert document["States"]["Invalid input"]["Error"] == "InvalidSagaInput"


def test_the_file_is_indented_json_with_a_trailing_newline() -> None:
    text = asl.render_definition(parse(answers()))
    assert text.endswith("}\n")
    assert json.loads(text) == definition()
    assert text.startswith('{\n  "Comment"')


def test_the_hook_writes_the_definition_and_draws_it_into_the_readme(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "devtools").mkdir(parents=True)
    shutil.copy(PROJECT_TEMPLATE / "devtools" / "diagram.py", project / "devtools" / "diagram.py")
    readme = PROJECT_TEMPLATE.joinpath("README.md").read_text()
    markers = [line for line in readme.splitlines() if line.startswith("<!-- ") and "diagram" in line]
    (project / "README.md").write_text("# Title\n\n" + "\n".join(markers) + "\n\nAfter.\n")
    saga = parse(answers())

    path = hooks.write_state_machine(saga, project)
    first = (project / "README.md").read_text()
    hooks.write_state_machine(saga, project)

    assert path.read_text() == asl.render_definition(saga)
    assert (project / "README.md").read_text() == first
    assert first.startswith("# Title\n\n<!-- ")
    assert first.endswith("<!-- end of saga diagram -->\n\nAfter.\n")
    assert "```mermaid\nflowchart TD\n" in first
    for state in asl.build_definition(saga)["States"]:
        assert f'"{state}"' in first
