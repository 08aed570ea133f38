"""The effect a step keeps for each saga, one row per saga in the step's own table.

Every step's table has the same shape (``saga_id`` primary key, ``state``, ``data``): its first
migration creates it. A repeated action finds the row already there and changes nothing, so the
effect is applied once even when the step runs twice. Every statement is parameterized and commits
on its own: each one is all a method needs to be atomic, and a Data API call or a proxy round trip
saved is time every step invocation keeps.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from {{ cookiecutter.package_name }}.database import execute
from {{ cookiecutter.package_name }}.runtime.errors import StepCancelled

EffectState = Literal["DONE", "COMPENSATED"]
_TABLE = re.compile(r"[a-z][a-z0-9_]*")
# ``data`` as text: both access paths return it as the JSON the table stored.
COLUMNS = "saga_id, state, data::text AS data"


@dataclass(frozen=True)
class Effect:
    saga_id: str
    state: EffectState
    data: dict[str, Any]


class EffectTable:
    """The effects of one step, in the table named after it."""

    def __init__(self, table: str) -> None:
        if not _TABLE.fullmatch(table):
            raise ValueError(f"{table!r} is not a step's table name")
        self.table = table

    def record(self, saga_id: str, data: dict[str, Any]) -> Effect:
        """Record the effect of one saga, once: a repeated call changes nothing and returns the stored effect.

        The insert returns the row it wrote; when the row was there already, it does nothing and the
        stored row is read instead, whichever call wrote it. A row already compensated raises
        ``StepCancelled``: the saga that undid it is not carried on as if the step were done.
        """
        inserted = execute(
            f'INSERT INTO "{self.table}" (saga_id, state, data) VALUES (:saga_id, :state, :data)'  # noqa: S608
            f" ON CONFLICT (saga_id) DO NOTHING RETURNING {COLUMNS}",
            {"saga_id": saga_id, "state": "DONE", "data": data},
        )
        effect = _effect(inserted[0]) if inserted else self.find(saga_id)
        if effect is None:
            raise AssertionError(f"saga {saga_id}: the recorded effect is missing")
        if effect.state == "COMPENSATED":
            raise StepCancelled(f"saga {saga_id}: the {self.table} effect was compensated; it is not done again")
        return effect

    def undo(self, saga_id: str) -> bool:
        """Mark the effect of one saga compensated. False when there is nothing to undo; safe to repeat."""
        rows = execute(
            f'UPDATE "{self.table}" SET state = :state, updated_at = now() WHERE saga_id = :saga_id'  # noqa: S608
            " RETURNING saga_id",
            {"saga_id": saga_id, "state": "COMPENSATED"},
        )
        return bool(rows)

    def find(self, saga_id: str) -> Effect | None:
        """The effect of one saga, or None."""
        rows = execute(
            f'SELECT {COLUMNS} FROM "{self.table}" WHERE saga_id = :saga_id',  # noqa: S608
            {"saga_id": saga_id},
        )
        return _effect(rows[0]) if rows else None


def _effect(row: dict[str, Any]) -> Effect:
    return Effect(saga_id=row["saga_id"], state=row["state"], data=json.loads(row["data"]))
