"""Schema migrations: plain SQL files applied in order, each once.

Each step keeps its migrations in ``migrations/<step>/``, numbered
``0001_...sql``, ``0002_...sql``. They are applied in the order of their path, so a
step added later starts at its own ``0001`` without renumbering anyone else's; a
step's migrations touch only its own table. Applied migrations are recorded in
``schema_migrations``; running again applies only the new ones.

Each file runs in one transaction together with its ``schema_migrations`` row,
through the same access path as the steps (so deployment also proves that
path works), as the migrator role (``database.roles``): the admin's bootstrap
comes first, the steps' roles after. At deployment a trigger Lambda calls
``handler``; locally, ``make migrate`` calls ``deploy``.
{%- if cookiecutter.database_mode == "data_api" %}

A database paused at zero capacity answers nothing but "resuming" for about 15 seconds, longer
after a long pause.
{%- else %}

A cluster that is failing over, or a proxy whose connections are all busy, starts no
transaction for a while.
{%- endif %} The deployment must not fail on that (``DatabaseNotReady``), so the handler
waits for it: up to ``RESUME_BUDGET_SECONDS``, well within the function's 5 minutes.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.package_name }}.database import DatabaseNotReady, execute, roles, transaction
from {{ cookiecutter.package_name }}.runtime.observability import logger
from {{ cookiecutter.package_name }}.saga import STEPS

MIGRATIONS = Path(__file__).with_name("migrations")
RESUME_BUDGET_SECONDS = 120


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Deployment-time entry point: apply the pending migrations and report their names."""
    applied = apply_when_ready()
    logger.info("Migrations applied", extra={"applied": applied})
    return {"applied": applied}


def apply_when_ready(
    directory: Path = MIGRATIONS, budget: float = RESUME_BUDGET_SECONDS, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """``deploy``, waiting for a database that is not ready yet, up to ``budget`` seconds in all."""
    waited, delay = 0.0, 5.0
    while True:
        try:
            return deploy(directory)
        except DatabaseNotReady as error:
            if waited + delay > budget:
                raise
            logger.info("Database not ready; waiting for it", extra={"reason": str(error), "seconds": delay})
            sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 30.0)


def deploy(directory: Path = MIGRATIONS) -> list[str]:
    """The admin's bootstrap, then as the migrator the pending migrations and the steps' roles."""
    roles.bootstrap()
    applied = apply(directory)
    roles.reconcile(step.name for step in STEPS)
    return applied


def apply(directory: Path = MIGRATIONS) -> list[str]:
    """Apply the migrations in ``directory`` that were not applied yet; return their names."""
    execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    # Read once: a deployment that brings no new migration costs these two statements only.
    done = {row["name"] for row in execute("SELECT name FROM schema_migrations")}
    applied = []
    for path in migration_files(directory):
        name = path.relative_to(directory).as_posix()
        if name in done:
            continue
        with transaction():
            # Held until commit: a concurrent run waits, then sees this migration as applied.
            execute("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE")
            if execute("SELECT name FROM schema_migrations WHERE name = :name", {"name": name}):
                continue
            for statement in split_statements(path.read_text(encoding="utf-8")):
                execute(statement)
            execute("INSERT INTO schema_migrations (name) VALUES (:name)", {"name": name})
        applied.append(name)
    return applied


def migration_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*/[0-9][0-9][0-9][0-9]_*.sql"), key=lambda path: path.relative_to(directory).parts)


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, split on ``;`` outside quotes, dollar quotes and comments.

    The Data API runs one statement per call, so both modes send them one by one.
    """
    statements, current, index = [], [], 0
    while index < len(script):
        char = script[index]
        if script.startswith("--", index):
            end = script.find("\n", index)
            index = len(script) if end == -1 else end
            continue
        if script.startswith("/*", index):
            end = script.find("*/", index + 2)
            index = len(script) if end == -1 else end + 2
            continue
        if char in "'\"":
            end = script.find(char, index + 1)
            while end != -1 and script.startswith(char * 2, end):
                end = script.find(char, end + 2)
            end = len(script) if end == -1 else end + 1
            current.append(script[index:end])
            index = end
            continue
        if char == "$":
            tag_end = script.find("$", index + 1)
            tag = script[index : tag_end + 1] if tag_end != -1 else ""
            if tag and (tag == "$$" or tag[1:-1].isidentifier()):
                end = script.find(tag, tag_end + 1)
                end = len(script) if end == -1 else end + len(tag)
                current.append(script[index:end])
                index = end
                continue
        if char == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]
