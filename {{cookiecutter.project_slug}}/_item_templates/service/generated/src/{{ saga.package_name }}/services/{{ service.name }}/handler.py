"""Lambda entry points of the {{ service.name }} step; its business code lives in ``logic``."""

from {{ saga.package_name }}.runtime.step import SagaStep
from {{ saga.package_name }}.services.{{ service.name }} import logic

step = SagaStep(
    name="{{ service.name }}",
    rejection_error="{{ service.rejection_error }}",
    action=logic.execute,
{%- if service.compensation %}
    compensation=logic.{{ service.compensation }},
{%- endif %}
)

handle_action = step.action_handler
{%- if service.compensation %}
handle_compensation = step.compensation_handler
{%- endif %}
