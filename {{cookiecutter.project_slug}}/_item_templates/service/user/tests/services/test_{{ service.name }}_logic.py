"""Tests of the {{ service.name }} business logic against a real PostgreSQL. Yours to edit along with ``logic``."""

import pytest

from {{ saga.package_name }}.runtime.models import StepRequest
from {{ saga.package_name }}.services.{{ service.name }} import logic, repository

pytestmark = pytest.mark.usefixtures("database")


def test_execute_records_the_effect_under_the_saga_id() -> None:
    result = logic.execute(StepRequest(saga_id="saga-1"))
    assert result.status == "DONE"
    assert result.data == {"reference": "{{ service.name }}-saga-1"}
    effect = repository.find("saga-1")
    assert effect is not None
    assert effect.state == "DONE"


def test_execute_twice_records_one_effect() -> None:
    assert logic.execute(StepRequest(saga_id="saga-1")) == logic.execute(StepRequest(saga_id="saga-1"))
    assert repository.record("saga-1", {"other": "data"}).data == {"reference": "{{ service.name }}-saga-1"}
{%- if service.compensation %}


def test_{{ service.compensation }}_undoes_the_effect_of_the_same_saga() -> None:
    logic.execute(StepRequest(saga_id="saga-1"))
    logic.execute(StepRequest(saga_id="saga-2"))
    result = logic.{{ service.compensation }}(StepRequest(saga_id="saga-1"))
    assert result.status == "COMPENSATED"
    assert result.data == {"reference": "{{ service.name }}-saga-1"}
    assert [effect.state for effect in map(repository.find, ["saga-1", "saga-2"]) if effect] == ["COMPENSATED", "DONE"]


def test_{{ service.compensation }}_is_safe_to_repeat() -> None:
    logic.execute(StepRequest(saga_id="saga-1"))
    first = logic.{{ service.compensation }}(StepRequest(saga_id="saga-1"))
    second = logic.{{ service.compensation }}(StepRequest(saga_id="saga-1"))
    assert first == second
    assert second.status == "COMPENSATED"


def test_{{ service.compensation }}_accepts_nothing_to_undo() -> None:
    result = logic.{{ service.compensation }}(StepRequest(saga_id="never-executed"))
    assert result.status == "NOTHING_TO_UNDO"
    assert repository.find("never-executed") is None
{%- endif %}
