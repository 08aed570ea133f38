{%- set saga = cookiecutter | saga_model -%}
"""Who may do what in the database: a migrator that owns the tables, and one role per step.

``bootstrap`` is the one thing that runs as the cluster's admin, at each deployment: it makes sure
the migrator exists, may create roles and tables, and owns every table, those an older version of
this project created as the admin included. Nobody else may create anything in the schema.

``reconcile`` runs as the migrator, after the migrations: each step of ``saga.STEPS`` gets a role
{%- if saga.database_mode == "data_api" %}
whose password is the one in the step's own secret, that may read, insert and update its own table
{%- else %}
that logs in with IAM (``rds_iam``) and may read, insert and update its own table
{%- endif %}
and nothing else: no other table, not ``schema_migrations``, no ``CREATE``. The role of a step that is
gone is dropped; a renamed step is one of each. Both are idempotent: run them again, nothing changes.
"""

{% if saga.database_mode == "data_api" -%}
import json
{% endif -%}
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from {{ saga.package_name }}.database import execute, transaction
{%- if saga.database_mode == "rds_proxy" %}
from {{ saga.package_name }}.database.rds_proxy import close
{%- endif %}
from {{ saga.package_name }}.naming import MIGRATOR_ROLE, step_role
{%- if saga.database_mode == "data_api" %}
from {{ saga.package_name }}.runtime import aws
{%- endif %}

# Every step's role is a member; it has no rights of its own, and tells the roles of removed steps.
STEP_ROLES = "saga_steps"
# What a step's effects need (``database.effects``): insert a row, read it, mark it compensated.
STEP_PRIVILEGES = "SELECT, INSERT, UPDATE"
{%- if saga.database_mode == "data_api" %}
# The Data API logs in with the secret each call names.
LOGIN, ADMIN_LOGIN = "DATABASE_SECRET_ARN", "DATABASE_ADMIN_SECRET_ARN"
{%- else %}
# The proxy is asked to log in as this user, with an IAM token.
LOGIN, ADMIN_LOGIN = "DATABASE_USER", "DATABASE_ADMIN_USER"
{%- endif %}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@contextmanager
def logged_in_as(login: str) -> Iterator[None]:
{%- if saga.database_mode == "data_api" %}
    """Statements inside run as the database user whose credentials the secret ``login`` holds."""
{%- else %}
    """Statements inside run as the database user ``login``, on a connection of its own."""
{%- endif %}
    previous = os.environ[LOGIN]
{%- if saga.database_mode == "rds_proxy" %}
    close()
{%- endif %}
    os.environ[LOGIN] = login
    try:
        yield
    finally:
        os.environ[LOGIN] = previous
{%- if saga.database_mode == "rds_proxy" %}
        close()
{%- endif %}


def bootstrap() -> None:
    """As the admin: the migrator exists, may create roles and tables, and owns every table."""
{%- if saga.database_mode == "data_api" %}
    password = secret_password(os.environ[LOGIN])
{%- endif %}
    with logged_in_as(os.environ[ADMIN_LOGIN]), transaction():
        _create_role(MIGRATOR_ROLE, "LOGIN CREATEROLE")
{%- if saga.database_mode == "data_api" %}
        execute(f"ALTER ROLE {MIGRATOR_ROLE} PASSWORD {_literal(password)}")
{%- else %}
        # With the admin option, the migrator may let each step's role log in with IAM too.
        execute(f"GRANT rds_iam TO {MIGRATOR_ROLE} WITH ADMIN OPTION")
{%- endif %}
        # Giving a table to the migrator takes being a member of it.
        execute(f"GRANT {MIGRATOR_ROLE} TO CURRENT_USER")
        execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {MIGRATOR_ROLE}")
        execute(
            "DO $$ DECLARE name text; BEGIN"  # noqa: S608 - constant names
            " FOR name IN SELECT tablename FROM pg_tables"
            f" WHERE schemaname = 'public' AND tableowner <> '{MIGRATOR_ROLE}' LOOP"
            f" EXECUTE format('ALTER TABLE public.%I OWNER TO {MIGRATOR_ROLE}', name);"
            " END LOOP; END $$"
        )


def reconcile(steps: Iterable[str]) -> None:
    """As the migrator: a role for each of ``steps``, granted its own table only, and none for any other step."""
    wanted = {step_role(_identifier(step)): step for step in steps}
{%- if saga.database_mode == "data_api" %}
    secrets = json.loads(os.environ["DATABASE_STEP_SECRET_ARNS"])
    passwords = {role: secret_password(secrets[step]) for role, step in wanted.items()}
{%- endif %}
    with transaction():
        _create_role(STEP_ROLES, "NOLOGIN")
        for role, step in wanted.items():
            _create_role(role, f"LOGIN IN ROLE {STEP_ROLES}")
{%- if saga.database_mode == "data_api" %}
            execute(f'ALTER ROLE "{role}" PASSWORD {_literal(passwords[role])}')
{%- else %}
            execute(f'GRANT rds_iam TO "{role}"')
{%- endif %}
            # Whatever it was granted before (the table of its step's former name) goes.
            execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
            execute(f'GRANT {STEP_PRIVILEGES} ON "{step}" TO "{role}"')
        members = execute(
            "SELECT member.rolname AS role FROM pg_auth_members grant_"  # noqa: S608 - a constant name
            " JOIN pg_roles member ON member.oid = grant_.member"
            f" WHERE grant_.roleid = '{STEP_ROLES}'::regrole"
        )
        for role in sorted({row["role"] for row in members} - wanted.keys()):
            # The migrator itself may be a member, as the role that created the group.
            if role.startswith(step_role("")):
                execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
                execute(f'DROP ROLE "{role}"')
{%- if saga.database_mode == "data_api" %}


def secret_password(arn: str) -> str:
    """The password a Secrets Manager secret of the database holds."""
    secret = aws.client("secretsmanager").get_secret_value(SecretId=arn)
    return str(json.loads(secret["SecretString"])["password"])


def _literal(text: str) -> str:
    # ALTER ROLE takes no parameters: the password goes in as a quoted literal.
    return "'" + text.replace("'", "''") + "'"
{%- endif %}


def _create_role(role: str, options: str) -> None:
    # CREATE ROLE has no IF NOT EXISTS.
    execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}')"
        f' THEN CREATE ROLE "{role}" {options}; END IF; END $$'
    )


def _identifier(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a step's name")
    return name
