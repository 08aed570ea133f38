"""The services' real business code in a saga run, with their effects read back from their tables."""

import importlib

from devtools.local_database import LocalDatabase
from devtools.saga_harness import EffectLedger
from infra.config import PACKAGE, STEPS
from {{ cookiecutter.package_name }}.runtime.models import StepRequest, StepResult
from {{ cookiecutter.package_name }}.runtime.step import StepFunction


class DatabaseLedger(EffectLedger):
    """Runs each service's own ``logic`` against the local database, and records which calls ran.

    An effect is in place when the service's row for the saga is ``DONE``; a compensated
    row, or no row at all, means nothing is left in place.
    """

    def __init__(self, database: LocalDatabase) -> None:
        super().__init__()
        self.database = database

    def function(self, service: str, role: str) -> StepFunction:
        logic = importlib.import_module(f"{PACKAGE}.services.{service}.logic")
        compensation = next(step.compensation for step in STEPS if step.name == service)
        business: StepFunction = getattr(logic, "execute" if role == "action" else str(compensation))

        def run(request: StepRequest) -> StepResult:
            self.applied.append((service, role, request.saga_id))
            return business(request)

        return run

    def of(self, saga_id: str) -> dict[str, bool]:
        return {service: state == "DONE" for service, state in self.states(saga_id).items()}

    def states(self, saga_id: str) -> dict[str, str | None]:
        """Per service, the state of its row for this saga: ``DONE``, ``COMPENSATED``, or None."""
        return self.database.effects(saga_id)
