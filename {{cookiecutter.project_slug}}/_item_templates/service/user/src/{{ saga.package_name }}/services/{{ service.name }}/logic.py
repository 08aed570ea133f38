"""Business logic of the {{ service.name }} step. This module is yours: regenerating never overwrites it.

Return a ``StepResult`` when the work is done. Raise ``StepRejected``, or a subclass
of it, for a definitive business "no": the saga then undoes the previous steps only.
Raise ``TransientError`` for a failure worth retrying. Any other exception is a crash:
the saga assumes the step may have half-happened and
{%- if service.compensation %} runs ``{{ service.compensation }}`` too.
{%- else %} undoes the previous steps.
{%- endif %}

Key every effect by the saga id: a compensation then finds what to undo even when
the step crashed before it could report a result. ``repository`` does that for the
effect recorded in this service's table.
"""

from {{ saga.package_name }}.runtime.models import StepRequest, StepResult
from {{ saga.package_name }}.runtime.observability import tracer
from {{ saga.package_name }}.services.{{ service.name }} import repository


def reference(request: StepRequest) -> str:
    """The key of this step's effect for one saga."""
    return f"{{ service.name }}-{request.saga_id}"


@tracer.capture_method
def execute(request: StepRequest) -> StepResult:
    """Do the {{ service.name }} work of one saga. The saga input is ``request.payload``;
    earlier steps' results are in ``request.results``."""
    effect = repository.record(request.saga_id, {"reference": reference(request)})
    return StepResult(status="DONE", data=effect.data)
{%- if service.compensation %}


@tracer.capture_method
def {{ service.compensation }}(request: StepRequest) -> StepResult:
    """Undo ``execute`` for this saga. Must accept "nothing to undo": after a crash or a
    timeout, ``execute`` may or may not have happened."""
    if not repository.undo(request.saga_id):
        return StepResult(status="NOTHING_TO_UNDO")
    return StepResult(status="COMPENSATED", data={"reference": reference(request)})
{%- endif %}
