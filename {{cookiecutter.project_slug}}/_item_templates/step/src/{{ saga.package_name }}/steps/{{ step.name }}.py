"""The {{ step.name }} step of the saga. This module is yours: regenerating never overwrites it.

``execute`` does the step's work. Return a ``StepResult`` when it is done. Raise ``StepRejected``,
or a subclass of it, for a definitive business "no": the saga then undoes the previous steps only.
Raise ``TransientError`` for a failure worth retrying. Any other exception is a crash: the saga
assumes the step may have half-happened and
{%- if step.compensation %} runs ``{{ step.compensation }}`` too.
{%- else %} undoes the previous steps.
{%- endif %}

Key every effect by the saga id: {% if step.compensation %}the compensation then finds what to undo even when the
step crashed before it could report a result, and {% endif %}a repeated call changes nothing.
``effects`` does that for the row this step keeps in its table.
"""

from {{ saga.package_name }}.database.effects import EffectTable
from {{ saga.package_name }}.runtime.envelope import StepRequest, StepResult
from {{ saga.package_name }}.runtime.observability import tracer

effects = EffectTable("{{ step.name }}")


@tracer.capture_method
def execute(request: StepRequest) -> StepResult:
    """Do the {{ step.name }} work of one saga. The saga input is ``request.payload``; earlier
    steps' results are in ``request.results``."""
    effect = effects.record(request.saga_id, {"reference": f"{{ step.name }}-{request.saga_id}"})
    return StepResult("DONE", effect.data)
{%- if step.compensation %}


@tracer.capture_method
def {{ step.compensation }}(request: StepRequest) -> StepResult:
    """Undo ``execute`` for this saga. Must accept "nothing to undo": after a crash or a timeout,
    ``execute`` may or may not have happened."""
    if not effects.undo(request.saga_id):
        return StepResult("NOTHING_TO_UNDO")
    return StepResult("COMPENSATED", {"reference": f"{{ step.name }}-{request.saga_id}"})
{%- endif %}
