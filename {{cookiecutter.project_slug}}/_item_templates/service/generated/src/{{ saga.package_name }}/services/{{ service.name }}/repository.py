"""Data access of the {{ service.name }} step: its effect, one row per saga, in its own table.

Every statement is parameterized, and each function is one transaction.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal

from {{ saga.package_name }}.database import execute, transaction

EffectState = Literal["DONE", "COMPENSATED"]

INSERT = """
    INSERT INTO "{{ service.name }}" (saga_id, state, data)
    VALUES (:saga_id, :state, :data)
    ON CONFLICT (saga_id) DO NOTHING
"""
MARK_COMPENSATED = """
    UPDATE "{{ service.name }}" SET state = :state, updated_at = now()
    WHERE saga_id = :saga_id
    RETURNING saga_id
"""
SELECT = """
    SELECT saga_id, state, data::text AS data FROM "{{ service.name }}"
    WHERE saga_id = :saga_id
"""


@dataclass(frozen=True)
class Effect:
    saga_id: str
    state: EffectState
    data: dict[str, Any]


def record(saga_id: str, data: dict[str, Any]) -> Effect:
    """Record the effect of one saga, once: a repeated call changes nothing and returns the stored effect."""
    with transaction():
        execute(INSERT, {"saga_id": saga_id, "state": "DONE", "data": data})
        effect = find(saga_id)
    if effect is None:
        raise AssertionError(f"saga {saga_id}: the recorded effect is missing")
    return effect


def undo(saga_id: str) -> bool:
    """Mark the effect of one saga compensated. False when there is nothing to undo; safe to repeat."""
    return bool(execute(MARK_COMPENSATED, {"saga_id": saga_id, "state": "COMPENSATED"}))


def find(saga_id: str) -> Effect | None:
    """The effect of one saga, or None."""
    rows = execute(SELECT, {"saga_id": saga_id})
    if not rows:
        return None
    row = rows[0]
    return Effect(saga_id=row["saga_id"], state=row["state"], data=json.loads(row["data"]))
