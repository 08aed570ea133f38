"""Tests of the {{ step.name }} step's business code against a real PostgreSQL. Yours to edit along with it."""

import pytest

from {{ saga.package_name }}.runtime.envelope import StepRequest
{%- if step.compensation %}
from {{ saga.package_name }}.runtime.errors import StepCancelled
{%- endif %}
from {{ saga.package_name }}.steps import {{ step.name }}

pytestmark = pytest.mark.usefixtures("database")


def test_execute_records_the_effect_under_the_saga_id() -> None:
    result = {{ step.name }}.execute(StepRequest("saga-1"))
    assert (result.status, result.data) == ("DONE", {"reference": "{{ step.name }}-saga-1"})
    effect = {{ step.name }}.effects.find("saga-1")
    assert effect is not None
    assert effect.state == "DONE"


def test_execute_twice_records_one_effect() -> None:
    assert {{ step.name }}.execute(StepRequest("saga-1")) == {{ step.name }}.execute(StepRequest("saga-1"))
    assert {{ step.name }}.effects.record("saga-1", {"other": "data"}).data == {"reference": "{{ step.name }}-saga-1"}
{%- if step.compensation %}


def test_{{ step.compensation }}_undoes_the_effect_of_the_same_saga() -> None:
    {{ step.name }}.execute(StepRequest("saga-1"))
    {{ step.name }}.execute(StepRequest("saga-2"))
    result = {{ step.name }}.{{ step.compensation }}(StepRequest("saga-1"))
    assert (result.status, result.data) == ("COMPENSATED", {"reference": "{{ step.name }}-saga-1"})
    states = [effect.state for effect in map({{ step.name }}.effects.find, ["saga-1", "saga-2"]) if effect]
    assert states == ["COMPENSATED", "DONE"]


def test_{{ step.compensation }}_is_safe_to_repeat() -> None:
    {{ step.name }}.execute(StepRequest("saga-1"))
    first = {{ step.name }}.{{ step.compensation }}(StepRequest("saga-1"))
    assert {{ step.name }}.{{ step.compensation }}(StepRequest("saga-1")) == first
    assert first.status == "COMPENSATED"


def test_execute_after_{{ step.compensation }}_is_cancelled_not_done_again() -> None:
    {{ step.name }}.execute(StepRequest("saga-1"))
    {{ step.name }}.{{ step.compensation }}(StepRequest("saga-1"))
    with pytest.raises(StepCancelled):
        {{ step.name }}.execute(StepRequest("saga-1"))
    assert [effect.state for effect in [{{ step.name }}.effects.find("saga-1")] if effect] == ["COMPENSATED"]


def test_{{ step.compensation }}_accepts_nothing_to_undo() -> None:
    assert {{ step.name }}.{{ step.compensation }}(StepRequest("never-executed")).status == "NOTHING_TO_UNDO"
    assert {{ step.name }}.effects.find("never-executed") is None
{%- endif %}
