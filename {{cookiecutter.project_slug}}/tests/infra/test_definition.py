"""The state machine definition as built from ``saga.py``: order, retries, catches, compensation chain, bookkeeping.

Most tests build sagas of their own shapes, so they hold whatever this project's steps are.
"""

import json
import re
from typing import Any

import pytest

from infra import definition as builder
from infra.timing import EXPRESS_FUNCTION_TIMEOUTS, LAMBDA_SERVICE_ERRORS, LAMBDA_THROTTLED, express, standard
from {{ cookiecutter.package_name }}.naming import Step
from {{ cookiecutter.package_name }}.saga import STEPS, WORKFLOW_TYPE

THREE = (Step("payment", "refund_payment"), Step("inventory", "release_inventory"), Step("shipping"))
TEN = tuple(Step(f"a{index}", f"u{index}" if index in (1, 2, 4, 7, 10) else None) for index in range(1, 11))


def states_of(steps: tuple[Step, ...] = THREE, workflow_type: str = "STANDARD") -> dict[str, Any]:
    timing = standard() if workflow_type == "STANDARD" else express(3)
    built: dict[str, Any] = builder.build_definition(steps, workflow_type, timing)["States"]
    return built


def chain_from(states: dict[str, Any], step: str, error: str) -> list[str]:
    """The compensations run, in order, when ``step`` fails with ``error``."""
    catcher = next(c for c in states[step]["Catch"] if error in c["ErrorEquals"] or c["ErrorEquals"] == ["States.ALL"])
    names, current = [], states[catcher["Next"]]["Next"]
    while states[current].get("Resource") == builder.LAMBDA_INVOKE:
        names.append(current)
        current = states[current]["Next"]
    return names


def test_the_file_is_the_definition_saga_py_builds(capsys: pytest.CaptureFixture[str]) -> None:
    assert builder.main(["--check"]) == 0
    assert builder.main([]) == 0
    assert capsys.readouterr().out == "statemachine/saga.asl.json is current\n"
    text = builder.DEFINITION_FILE.read_text(encoding="utf-8")
    assert text == builder.render(builder.saga_definition())
    assert text.startswith('{\n  "Comment"')
    assert text.endswith("}\n")


def test_steps_run_in_order_after_validation_and_the_start_record_then_succeed_in_two_integrations() -> None:
    states, order, current = states_of(), [], builder.VALIDATE_INPUT
    while True:
        order.append(current)
        state = states[current]
        if state.get("End"):
            break
        current = state["Next"] if "Next" in state else state["Choices"][0]["Next"]
    assert order == [
        "Validate input",
        "Read saga id",
        "Check saga id",
        "Record STARTED",
        "Payment",
        "Inventory",
        "Shipping",
        "Record SUCCEEDED",
        "Publish SagaSucceeded",
    ]


def test_each_step_retries_what_is_worth_retrying_each_with_its_own_budget() -> None:
    for timing, workflow_type in ((standard(), "STANDARD"), (express(3), "EXPRESS")):
        states = states_of(workflow_type=workflow_type)
        for step in THREE:
            rules = states[step.title]["Retry"]
            retried = {error for rule in rules for error in rule["ErrorEquals"]}
            assert retried == {
                "TransientError",
                "StepInProgress",
                "IdempotencyStoreUnavailable",
                "DatabaseNotReady",
                *LAMBDA_SERVICE_ERRORS,
                LAMBDA_THROTTLED,
            }
            assert "Lambda.Unknown" not in retried, "the function ran: a crash, not a retry"
            assert all(0 < rule["MaxAttempts"] <= 5 for rule in rules)
            assert states[step.title]["TimeoutSeconds"] == timing.task_timeout


def test_a_rejection_undoes_the_previous_steps_and_anything_else_the_step_too() -> None:
    states = states_of()
    assert states["Payment"]["Catch"][0]["ErrorEquals"] == ["PaymentRejected", "InvalidInput"]
    assert states["Payment"]["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert chain_from(states, "Payment", "PaymentRejected") == []
    assert chain_from(states, "Payment", "States.ALL") == ["RefundPayment"]
    assert chain_from(states, "Inventory", "InventoryRejected") == ["RefundPayment"]
    assert chain_from(states, "Inventory", "States.Timeout") == ["ReleaseInventory", "RefundPayment"]
    # Shipping has no compensation: one catch, and the chain starts at the step before it.
    assert [catcher["ErrorEquals"] for catcher in states["Shipping"]["Catch"]] == [["States.ALL"]]
    assert chain_from(states, "Shipping", "ShippingRejected") == ["ReleaseInventory", "RefundPayment"]


def test_a_failure_is_noted_as_the_step_and_the_error_name_only() -> None:
    states = states_of()
    for name in ("Inventory rejected", "Inventory failed", "Shipping failed"):
        assert states[name]["Parameters"] == {"step": name.split()[0].lower(), "error.$": "$.failure.Error"}
        assert states[name]["ResultPath"] == "$.failure"
    # Nothing ran before the first step: its notes rebuild the state, with no results yet.
    assert states["Payment failed"]["Parameters"]["results"] == {}
    assert states["Payment"]["Parameters"]["Payload"]["results"] == {}
    assert states["RefundPayment failed"]["Parameters"] == {"error.$": "$.compensation_errors.refund_payment.Error"}


def test_compensations_retry_harder_never_on_a_refusal_and_go_on_after_a_failure() -> None:
    states = states_of()
    step_attempts = sum(rule["MaxAttempts"] for rule in states["Payment"]["Retry"])
    chain = {
        "ReleaseInventory": ("InventoryRejected", "RefundPayment"),
        "RefundPayment": ("PaymentRejected", "Check compensations"),
    }
    for name, (rejection, following) in chain.items():
        refusal, *rules = states[name]["Retry"]
        assert (refusal["ErrorEquals"], refusal["MaxAttempts"]) == ([rejection, "InvalidInput"], 0)
        assert rules[-1]["ErrorEquals"] == ["States.ALL"]
        assert sum(rule["MaxAttempts"] for rule in rules) > step_attempts
        (catch,) = states[name]["Catch"]
        assert catch["Next"] == f"{name} failed"
        assert states[f"{name} failed"]["Next"] == following == states[name]["Next"]


def test_a_failed_compensation_goes_to_the_dead_letter_queue_then_fails_with_compensation_failed() -> None:
    states = states_of()
    assert states["Check compensations"]["Choices"][0]["Next"] == "Send state to DLQ"
    assert states["Check compensations"]["Default"] == "Record FAILED"
    dlq = states["Send state to DLQ"]
    assert dlq["Resource"] == builder.SQS_SEND_MESSAGE
    assert dlq["Parameters"]["MessageBody"] == {
        "reason": "COMPENSATION_FAILED",
        "execution_arn.$": "$$.Execution.Id",
        "state.$": "$",
    }
    assert dlq["Next"] == "Record COMPENSATION_FAILED"
    assert states["Publish SagaCompensationFailed"]["Next"] == "Compensation failed"
    assert states["Compensation failed"]["Error"] == "CompensationFailed"
    assert states["Publish SagaFailed"]["End"] is True, "a compensated saga is an outcome, not a failed execution"


@pytest.mark.parametrize(
    ("status", "refused"), [("STARTED", "Already started"), ("SUCCEEDED", "Already ended"), ("FAILED", "Already ended")]
)
def test_every_status_record_holds_only_while_this_execution_runs_the_saga(status: str, refused: str) -> None:
    states = states_of()
    parameters = states[f"Record {status}"]["Parameters"]
    assert "execution_arn = :execution AND" in parameters["ConditionExpression"]
    assert parameters["ExpressionAttributeValues"][":started"] == {"S": "STARTED"}
    assert states[f"Record {status}"]["Retry"][0] == {"ErrorEquals": [builder.CONDITION_FAILED], "MaxAttempts": 0}
    catch = states[f"Record {status}"]["Catch"][0]
    assert catch == {"ErrorEquals": [builder.CONDITION_FAILED], "ResultPath": None, "Next": refused}
    assert (states[refused]["Type"], states[refused]["End"]) == ("Pass", True), "nothing recorded, published or run"


@pytest.mark.parametrize("workflow_type", ["STANDARD", "EXPRESS"])
def test_no_status_record_event_or_dead_letter_can_fail_unnoticed(workflow_type: str) -> None:
    states = states_of(workflow_type=workflow_type)
    integrations = {
        name: state
        for name, state in states.items()
        if state.get("Resource", "").startswith("arn:aws:states:::") and state["Resource"] != builder.LAMBDA_INVOKE
    }
    assert len(integrations) == 9
    for name, state in integrations.items():
        fallback = state["Catch"][-1]
        assert fallback["ErrorEquals"] == ["States.ALL"], name
        expected = {
            "Send unrecorded saga to DLQ": "Dead letter failed",
            "Send state to DLQ": "Send unrecorded saga to DLQ",
        }
        assert fallback["Next"] == expected.get(name, "Send unrecorded saga to DLQ"), name
    assert states["Send unrecorded saga to DLQ"]["Next"] == "Bookkeeping failed"
    assert (states["Bookkeeping failed"]["Error"], states["Dead letter failed"]["Error"]) == (
        "BookkeepingFailed",
        "DeadLetterFailed",
    )


def test_outcome_events_carry_the_outcome_fields_and_no_cause() -> None:
    states = states_of()
    for status, detail_type in (("SUCCEEDED", "SagaSucceeded"), ("FAILED", "SagaFailed")):
        (entry,) = states[f"Publish {detail_type}"]["Parameters"]["Entries"]
        assert (entry["DetailType"], entry["EventBusName"], entry["Detail"]["status"]) == (
            detail_type,
            "${EventBusName}",
            status,
        )
    assert set(states["Publish SagaFailed"]["Parameters"]["Entries"][0]["Detail"]) == {
        "saga_id.$",
        "status",
        "failed_step.$",
        "error.$",
    }


def test_every_task_has_a_timeout_and_the_placeholders_are_the_contract() -> None:
    states = states_of(TEN)
    assert all(state["TimeoutSeconds"] > 0 for state in states.values() if state["Type"] == "Task")
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(states_of())))
    assert placeholders == {
        "PaymentFunctionArn", "InventoryFunctionArn", "ShippingFunctionArn", "RefundPaymentFunctionArn",
        "ReleaseInventoryFunctionArn", "SagaTableName", "EventBusName", "DeadLetterQueueUrl",
    }  # fmt: skip


def test_without_compensations_there_is_no_chain() -> None:
    states = states_of((Step("charge"),))
    assert "Check compensations" not in states
    assert "Send state to DLQ" not in states
    assert states["Charge failed"]["Next"] == "Record FAILED"


def test_ten_steps_grow_the_definition_linearly_with_reverse_compensations() -> None:
    states = states_of(TEN)
    assert len(states) < 4 * len(states_of())
    assert chain_from(states, "A10", "States.ALL") == ["U10", "U7", "U4", "U2", "U1"]
    assert chain_from(states, "A6", "A6Rejected") == ["U4", "U2", "U1"]
    assert chain_from(states, "A1", "A1Rejected") == []


def test_malformed_input_and_reserved_keys_are_refused_before_anything_is_recorded() -> None:
    validate = states_of()["Validate input"]
    assert validate["Default"] == "Invalid input"
    checked = json.dumps(validate["Choices"])
    assert all(f'"$.{key}"' in checked for key in builder.RESERVED_KEYS)


def test_this_projects_timing_is_the_one_its_workflow_type_calls_for() -> None:
    timing = builder.saga_timing()
    if WORKFLOW_TYPE == "STANDARD":
        assert timing == standard()
    else:
        assert timing in [express(seconds) for seconds in EXPRESS_FUNCTION_TIMEOUTS]
    assert builder.saga_definition() == builder.build_definition(STEPS, WORKFLOW_TYPE, timing)
