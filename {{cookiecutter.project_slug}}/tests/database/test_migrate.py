{%- set saga = cookiecutter | saga_model -%}
"""Migrations: applied in order, once, each whole or not at all, through the steps' access path, as the
migrator; then each step's role, allowed its own table and nothing else."""

from pathlib import Path
from typing import Any

import psycopg
import pytest

from devtools.local_database import LocalDatabase
from infra.timing import DATABASE_WAIT_SECONDS
from {{ saga.package_name }}.database import DatabaseError, DatabaseNotReady, execute, migrate, roles
from {{ saga.package_name }}.database.effects import EffectTable
from {{ saga.package_name }}.naming import step_role
from {{ saga.package_name }}.saga import STEPS

STEP_NAMES = sorted(step.name for step in STEPS)
# What a step's role may do: read and write its own table; nothing to another step's, schema_migrations or the schema.
ROLE_CASES = [
    ("SELECT saga_id FROM {own}", True),
    ("INSERT INTO {own} (saga_id, state) VALUES ('by-role', 'DONE')", True),
    ("UPDATE {own} SET state = 'COMPENSATED' WHERE saga_id = 'by-role'", True),
    ("DELETE FROM {own}", False),
    ("SELECT saga_id FROM {other}", False),
    ("INSERT INTO {other} (saga_id, state) VALUES ('by-role', 'DONE')", False),
    ("SELECT name FROM schema_migrations", False),
    ("INSERT INTO schema_migrations (name) VALUES ('forged')", False),
    ("CREATE TABLE intruder (id int)", False),
]


def step_grants(database: LocalDatabase) -> dict[str, dict[str, list[str]]]:
    """What each step's role may do on which table, as the server records it."""
    rows = database.admin.execute(
        "SELECT grantee, table_name, string_agg(privilege_type, ',' ORDER BY privilege_type)"
        " FROM information_schema.role_table_grants WHERE grantee LIKE 'saga\\_step\\_%' GROUP BY 1, 2"
    ).fetchall()
    grants: dict[str, dict[str, list[str]]] = {}
    for role, table, privileges in rows:
        grants.setdefault(role, {})[table] = privileges.split(",")
    return grants


def test_every_step_has_its_table_and_the_migrations_are_recorded(database: LocalDatabase) -> None:
    assert database.tables == STEP_NAMES
    recorded = [row["name"] for row in execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert recorded == sorted(f"{name}/0001_create_{name}.sql" for name in STEP_NAMES)


class Waits:
    """Stands in for ``time.sleep``: adds up the waits, and resumes the database after ``resume_after`` seconds."""

    def __init__(self, database: LocalDatabase, resume_after: float) -> None:
        self.database, self.resume_after, self.total = database, resume_after, 0.0

    def __call__(self, seconds: float) -> None:
        self.total += seconds
        if self.total >= self.resume_after:
            self.database.resume()


def test_a_deployment_waits_for_a_paused_database(database: LocalDatabase, tmp_path: Path) -> None:
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "0001_create_late.sql").write_text("CREATE TABLE late (id int);")
    waits = Waits(database, resume_after=20)
    database.pause()
    try:
        assert migrate.apply_when_ready(tmp_path, sleep=waits) == ["late/0001_create_late.sql"]
    finally:
        database.resume()
        execute("DROP TABLE IF EXISTS late")
        execute("DELETE FROM schema_migrations WHERE name LIKE :prefix", {"prefix": "late/%"})
    assert waits.total >= 20


def test_a_database_paused_longer_than_the_budget_fails_the_deployment_clearly(database: LocalDatabase) -> None:
    waits = Waits(database, resume_after=float("inf"))
    database.pause()
    try:
        with pytest.raises(DatabaseNotReady):
            migrate.apply_when_ready(sleep=waits)
    finally:
        database.resume()
    assert waits.total >= DATABASE_WAIT_SECONDS


def test_running_again_applies_nothing(database: LocalDatabase, lambda_context: Any) -> None:
    assert migrate.handler({}, lambda_context) == {"applied": []}


def test_new_migrations_apply_in_order_and_once(database: LocalDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "0002_add_note.sql").write_text("ALTER TABLE extra ADD COLUMN note text DEFAULT 'a;b';\n")
    (folder / "0001_create_extra.sql").write_text("-- first; really\nCREATE TABLE extra (id int PRIMARY KEY);")
    try:
        assert migrate.apply(tmp_path) == ["extra/0001_create_extra.sql", "extra/0002_add_note.sql"]
        assert migrate.apply(tmp_path) == []
        assert execute("INSERT INTO extra (id) VALUES (:id) RETURNING note", {"id": 1}) == [{"note": "a;b"}]
    finally:
        execute("DROP TABLE IF EXISTS extra")
        execute("DELETE FROM schema_migrations WHERE name LIKE :prefix", {"prefix": "extra/%"})


def test_a_failing_migration_leaves_nothing_behind(database: LocalDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "0001_half.sql").write_text("CREATE TABLE broken (id int);\nINSERT INTO missing VALUES (1);\n")
    with pytest.raises(DatabaseError, match="missing"):
        migrate.apply(tmp_path)
    assert execute("SELECT to_regclass('broken') AS name") == [{"name": None}]
    assert execute("SELECT name FROM schema_migrations WHERE name = :name", {"name": "broken/0001_half.sql"}) == []


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';' -- a; comment\n;", ["SELECT ';'"]),
        ("SELECT 'it''s; fine'; /* x; y */ SELECT 2", ["SELECT 'it''s; fine'", "SELECT 2"]),
        ("CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;", None),
        ('SELECT 1 AS "a;b"', ['SELECT 1 AS "a;b"']),
    ],
)
def test_scripts_split_on_semicolons_outside_quotes_and_comments(script: str, statements: list[str] | None) -> None:
    assert migrate.split_statements(script) == (statements or [script.rstrip(";")])


@pytest.mark.parametrize("step", STEP_NAMES)
@pytest.mark.parametrize(("statement", "allowed"), ROLE_CASES)
def test_a_steps_role_uses_its_own_table_and_nothing_else(
    database: LocalDatabase, step: str, statement: str, allowed: bool
) -> None:
    other = next((name for name in STEP_NAMES if name != step), None)
    if other is None and "{other}" in statement:
        pytest.skip("a saga of one step has no other step's table")
    with database.as_step(step):
        if allowed:
            execute(statement.format(own=f'"{step}"', other=f'"{other}"'))
        else:
            with pytest.raises(DatabaseError, match="permission denied"):
                execute(statement.format(own=f'"{step}"', other=f'"{other}"'))


def test_a_removed_steps_role_is_dropped_and_an_added_ones_created_with_its_grants(database: LocalDatabase) -> None:
    removed, *kept = STEP_NAMES
    try:
        roles.reconcile(kept)
        assert step_role(removed) not in step_grants(database)
        assert not database.admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (step_role(removed),)).fetchall()
    finally:
        roles.reconcile(STEP_NAMES)
    assert step_grants(database) == {step_role(name): {name: ["INSERT", "SELECT", "UPDATE"]} for name in STEP_NAMES}


def test_a_stage_the_admin_migrated_moves_to_the_roles_in_place_with_its_data(database: LocalDatabase) -> None:
    old = f"{database.name}_old_layout"
    old_url = database.url.rsplit("/", 1)[0] + f"/{old}"
    database.admin.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    database.admin.execute(f'CREATE DATABASE "{old}"')
    # The layout before roles: every table created, and every saga written, by the admin.
    with psycopg.connect(old_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz DEFAULT now())")
        for path in migrate.migration_files(migrate.MIGRATIONS):
            admin.execute(path.read_text(encoding="utf-8").encode())
            name = path.relative_to(migrate.MIGRATIONS).as_posix()
            admin.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            admin.execute(f"INSERT INTO \"{path.parent.name}\" (saga_id, state) VALUES ('running', 'DONE')")  # noqa: S608
    try:
        with LocalDatabase(old_url) as upgraded:
            assert upgraded.migrate() == []
            for step in STEP_NAMES:
                with upgraded.as_step(step):
                    assert EffectTable(step).undo("running")
                    with pytest.raises(DatabaseError, match="permission denied"):
                        execute("SELECT name FROM schema_migrations")
    finally:
        database.admin.execute(f'DROP DATABASE "{old}" WITH (FORCE)')
