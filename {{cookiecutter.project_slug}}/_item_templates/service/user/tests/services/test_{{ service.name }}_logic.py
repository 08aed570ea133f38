"""Tests of the {{ service.name }} business logic. Yours to edit along with ``logic``."""

from {{ saga.package_name }}.runtime.models import StepRequest
from {{ saga.package_name }}.services.{{ service.name }} import logic


def test_execute_records_the_effect_under_the_saga_id() -> None:
    result = logic.execute(StepRequest(saga_id="saga-1"))
    assert result.status == "DONE"
    assert result.data == {"reference": "{{ service.name }}-saga-1"}
{%- if service.compensation %}


def test_{{ service.compensation }}_undoes_the_effect_of_the_same_saga() -> None:
    result = logic.{{ service.compensation }}(StepRequest(saga_id="saga-1"))
    assert result.status == "COMPENSATED"
    assert result.data == {"reference": "{{ service.name }}-saga-1"}
{%- endif %}
