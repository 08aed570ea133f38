"""Tests of the {{ service.name }} step's business code against a real PostgreSQL. Yours to edit along with it."""

import pytest

from {{ saga.package_name }}.runtime.envelope import StepRequest
from {{ saga.package_name }}.services import {{ service.name }}

pytestmark = pytest.mark.usefixtures("database")


def test_execute_records_the_effect_under_the_saga_id() -> None:
    result = {{ service.name }}.execute(StepRequest("saga-1"))
    assert (result.status, result.data) == ("DONE", {"reference": "{{ service.name }}-saga-1"})
    effect = {{ service.name }}.effects.find("saga-1")
    assert effect is not None
    assert effect.state == "DONE"


def test_execute_twice_records_one_effect() -> None:
    assert {{ service.name }}.execute(StepRequest("saga-1")) == {{ service.name }}.execute(StepRequest("saga-1"))
    assert {{ service.name }}.effects.record("saga-1", {"other": "data"}).data == {"reference": "{{ service.name }}-saga-1"}
{%- if service.compensation %}


def test_{{ service.compensation }}_undoes_the_effect_of_the_same_saga() -> None:
    {{ service.name }}.execute(StepRequest("saga-1"))
    {{ service.name }}.execute(StepRequest("saga-2"))
    result = {{ service.name }}.{{ service.compensation }}(StepRequest("saga-1"))
    assert (result.status, result.data) == ("COMPENSATED", {"reference": "{{ service.name }}-saga-1"})
    states = [effect.state for effect in map({{ service.name }}.effects.find, ["saga-1", "saga-2"]) if effect]
    assert states == ["COMPENSATED", "DONE"]


def test_{{ service.compensation }}_is_safe_to_repeat() -> None:
    {{ service.name }}.execute(StepRequest("saga-1"))
    first = {{ service.name }}.{{ service.compensation }}(StepRequest("saga-1"))
    assert {{ service.name }}.{{ service.compensation }}(StepRequest("saga-1")) == first
    assert first.status == "COMPENSATED"


def test_{{ service.compensation }}_accepts_nothing_to_undo() -> None:
    assert {{ service.name }}.{{ service.compensation }}(StepRequest("never-executed")).status == "NOTHING_TO_UNDO"
    assert {{ service.name }}.effects.find("never-executed") is None
{%- endif %}
