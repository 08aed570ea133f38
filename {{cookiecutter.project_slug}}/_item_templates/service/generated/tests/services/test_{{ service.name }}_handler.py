"""What reaches Step Functions from the {{ service.name }} handlers, for every kind of outcome.

The business functions are replaced here, so these tests hold whatever ``logic`` does.
"""

from typing import Any

import pytest

from {{ saga.package_name }}.runtime.errors import InvalidInput, StepRejected, TransientError
from {{ saga.package_name }}.runtime.models import StepRequest, StepResult
from {{ saga.package_name }}.services.{{ service.name }} import handler

ROLES = ["action"{% if service.compensation %}, "compensation"{% endif %}]
HANDLERS = {"action": handler.handle_action{% if service.compensation %}, "compensation": handler.handle_compensation{% endif %}}


class Declined(StepRejected):
    """A rejection as business code defines it."""


class Busy(TransientError):
    """A transient failure as business code defines it."""


def event(saga_id: str = "saga-1") -> dict[str, Any]:
    return {"saga_id": saga_id, "payload": {"customer_email": "jane@example.com"}, "results": {}}


class Recorder:
    """Stands in for a business function: records its calls, then fails or succeeds as told."""

    def __init__(self) -> None:
        self.requests: list[StepRequest] = []
        self.failures: list[Exception] = []

    def __call__(self, request: StepRequest) -> StepResult:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return StepResult(status="DONE", data={"call": len(self.requests)})


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def business(role: str, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setitem(handler.step.functions, role, recorder)
    return recorder


def invoke(role: str, payload: dict[str, Any], context: Any) -> dict[str, Any]:
    function = HANDLERS[role]
    assert function is not None
    return function(payload, context)


def test_success_returns_the_business_result(role: str, business: Recorder, lambda_context: Any) -> None:
    assert invoke(role, event(), lambda_context) == {"status": "DONE", "data": {"call": 1}}
    assert [request.saga_id for request in business.requests] == ["saga-1"]


def test_rejection_reaches_the_state_machine_under_the_step_error_name(
    role: str, business: Recorder, lambda_context: Any
) -> None:
    business.failures.append(Declined("not allowed"))
    with pytest.raises(StepRejected) as raised:
        invoke(role, event(), lambda_context)
    assert type(raised.value).__name__ == "{{ service.rejection_error }}"
    assert str(raised.value) == "not allowed"


def test_transient_failure_reaches_the_state_machine_as_transient_error(
    role: str, business: Recorder, lambda_context: Any
) -> None:
    business.failures.append(Busy("try later"))
    with pytest.raises(TransientError) as raised:
        invoke(role, event(), lambda_context)
    assert type(raised.value).__name__ == "TransientError"


def test_retry_after_a_transient_failure_runs_the_business_code_again(
    role: str, business: Recorder, lambda_context: Any
) -> None:
    business.failures.append(Busy("try later"))
    with pytest.raises(TransientError):
        invoke(role, event(), lambda_context)
    assert invoke(role, event(), lambda_context) == {"status": "DONE", "data": {"call": 2}}


def test_crash_keeps_its_own_error_name(role: str, business: Recorder, lambda_context: Any) -> None:
    business.failures.append(KeyError("customer"))
    with pytest.raises(KeyError):
        invoke(role, event(), lambda_context)


def test_redelivery_has_one_effect_and_returns_the_first_result(
    role: str, business: Recorder, lambda_context: Any
) -> None:
    first = invoke(role, event(), lambda_context)
    second = invoke(role, event(), lambda_context)
    assert second == first
    assert len(business.requests) == 1
    invoke(role, event("saga-2"), lambda_context)
    assert len(business.requests) == 2


@pytest.mark.parametrize(
    "malformed",
    [{}, {"payload": {}}, {"saga_id": "has spaces"}, {"saga_id": "saga-1", "payload": "not an object"}],
)
def test_malformed_input_fails_clearly_without_effect(
    role: str, business: Recorder, lambda_context: Any, malformed: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput, match="invalid step input"):
        invoke(role, malformed, lambda_context)
    assert business.requests == []


def test_logs_are_structured_and_carry_the_saga_id_without_the_payload(
    role: str, business: Recorder, lambda_context: Any, handler_output: Any
) -> None:
    invoke(role, event("saga-logs"), lambda_context)
    output = handler_output()
    finished = [line for line in output.logs if line["message"] == "Step finished"]
    assert len(finished) == 1
    assert finished[0]["correlation_id"] == "saga-logs"
    assert finished[0]["step"] == "{{ service.name }}"
    assert finished[0]["role"] == role
    assert finished[0]["service"] == "{{ saga.project_slug }}"
    assert "cold_start" in finished[0]
    assert "jane@example.com" not in output.text
    assert f"{role.capitalize()}Succeeded" in output.metric_names()
