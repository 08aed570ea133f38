{%- set saga = cookiecutter | saga_model -%}
"""Migrations: applied in order, once, each whole or not at all, through the services' access path."""

from pathlib import Path
from typing import Any

import pytest

from devtools.local_database import LocalDatabase
from {{ saga.package_name }}.database import DatabaseError, execute, migrate

PACKAGE = Path(migrate.__file__).parents[1]
SERVICES = sorted(path.parent.name for path in PACKAGE.glob("services/*/repository.py"))


def test_every_service_has_its_table_and_the_migrations_are_recorded(database: LocalDatabase) -> None:
    assert database.tables == sorted(SERVICES)
    recorded = [row["name"] for row in execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert recorded == sorted(f"{name}/0001_create_{name}.sql" for name in SERVICES)


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
