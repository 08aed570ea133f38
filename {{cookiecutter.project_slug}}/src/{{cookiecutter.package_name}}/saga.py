{%- set saga = cookiecutter | saga_model -%}
{%- macro step(declared) %}Step("{{ declared.name }}"{% if declared.compensation %}, compensation="{{ declared.compensation }}"{% endif %}){% endmacro -%}
"""The saga: its steps in order, what undoes each of them, and who hears how it ended.

To add, remove or reorder a step, change ``STEPS``, give a new step its module in
``steps/`` (and its table's migration), then run ``make definition``: the state machine,
its functions, the tests and the README follow from this file.
"""

from typing import Literal

from {{ saga.package_name }}.naming import {% if saga.consumers %}ALL_OUTCOMES, {% endif %}Consumer, Step

# STANDARD: exactly once, up to a year, billed per state transition.
# EXPRESS: at least once, at most 5 minutes, billed per request and duration.
WORKFLOW_TYPE: Literal["STANDARD", "EXPRESS"] = "{{ saga.workflow_type }}"

{% if saga.steps | length == 1 -%}
STEPS: tuple[Step, ...] = ({{ step(saga.steps[0]) }},)
{%- else %}
STEPS: tuple[Step, ...] = (
{%- for each in saga.steps %}
    {{ step(each) }},
{%- endfor %}
)
{%- endif %}

# Each consumer receives the outcome events named here; narrow ``receives`` to what it needs.
{%- if saga.consumers | length == 0 %}
CONSUMERS: tuple[Consumer, ...] = ()
{%- elif saga.consumers | length == 1 %}
CONSUMERS: tuple[Consumer, ...] = (Consumer("{{ saga.consumers[0].name }}", receives=ALL_OUTCOMES),)
{%- else %}
CONSUMERS: tuple[Consumer, ...] = (
{%- for consumer in saga.consumers %}
    Consumer("{{ consumer.name }}", receives=ALL_OUTCOMES),
{%- endfor %}
)
{%- endif %}
