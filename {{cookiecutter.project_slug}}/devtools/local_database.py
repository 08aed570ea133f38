{%- set saga = cookiecutter | saga_model -%}
"""The project's database layer wired to a local PostgreSQL database, for tests, benchmarks and local runs.
{% if saga.database_mode == "data_api" %}
The functions reach it as they reach Aurora in AWS: through ``rds-data`` calls, answered here by the local Data
API emulation (``devtools.data_api_emulator``). They log in as the deployed functions do: the server's superuser
stands for the cluster's admin, which only the migrations' bootstrap uses; the rest runs as the migrator or,
inside ``as_step``, as a step's own role, each with a secret of its own.
{%- else %}
The functions reach it as they reach Aurora in AWS: through a transaction-pooling proxy, here pgbouncer
(``devtools.pgbouncer``) instead of RDS Proxy. They log in as the deployed functions do: the server's superuser
stands for the cluster's admin, which only the migrations' bootstrap uses; the rest runs as the migrator or,
inside ``as_step``, as a step's own role.
{%- endif %}

    python -m devtools.local_database   # apply the migrations to $SAGA_DATABASE_URL
"""

import contextlib
{%- if saga.database_mode == "data_api" %}
import json
{%- endif %}
import os
import sys
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import psycopg
{% if saga.database_mode == "data_api" %}
from devtools.data_api_emulator import DataApiEmulator
from devtools.local_postgres import URL_VARIABLE
from {{ saga.package_name }}.database import data_api, migrate, roles
from {{ saga.package_name }}.naming import MIGRATOR_ROLE, step_role
from {{ saga.package_name }}.runtime import aws
{%- else %}
from devtools.local_postgres import URL_VARIABLE
from devtools.pgbouncer import PgBouncer
from {{ saga.package_name }}.database import migrate, rds_proxy, roles
from {{ saga.package_name }}.naming import MIGRATOR_ROLE, step_role
{%- endif %}
from {{ saga.package_name }}.saga import STEPS

REGION = os.environ.get("AWS_DEFAULT_REGION", "{{ saga.aws_region }}")
LOCAL_AWS = {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
{%- if saga.database_mode == "data_api" %}
CLUSTER_ARN = f"arn:aws:rds:{REGION}:123456789012:cluster:local"
SECRETS = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:"
{%- endif %}


class LocalDatabase(contextlib.ExitStack[bool | None]):
    """Points ``{{ saga.package_name }}.database`` at the PostgreSQL database ``url``; closing undoes it all."""

    def __init__(self, url: str, pool_size: int = 5) -> None:
        super().__init__()
        self.url, self.name = url, url.rsplit("/", 1)[1]
        self.admin = self.enter_context(psycopg.connect(url, autocommit=True))
        superuser = urlsplit(url)
        admin, roles_ = str(superuser.username), [MIGRATOR_ROLE, *(step_role(step.name) for step in STEPS)]
        # Restored on close: a local run inside a test session must hand the session's database back.
        self.enter_context(mock.patch.dict(os.environ))
        # Nothing here calls AWS{% if saga.database_mode == "rds_proxy" %} (the IAM token is signed locally){% endif %}: any region and credentials will do.
        for name, value in LOCAL_AWS.items():
            os.environ.setdefault(name, value)
{%- if saga.database_mode == "data_api" %}
        # A secret per user, named after it. Roles belong to the server, so their passwords are the same in
        # every database of it.
        users = {role: f"local-{role}" for role in roles_} | {admin: superuser.password or ""}
        secrets = {SECRETS + user: {"username": user, "password": secret} for user, secret in users.items()}
        self.emulator = DataApiEmulator(url, CLUSTER_ARN, secrets, pool_size=pool_size)
        self.callback(self.emulator.close)
        self.step_logins = {step.name: SECRETS + step_role(step.name) for step in STEPS}
        os.environ.update(
            DATABASE_CLUSTER_ARN=CLUSTER_ARN,
            DATABASE_NAME=self.name,
            DATABASE_SECRET_ARN=SECRETS + MIGRATOR_ROLE,
            DATABASE_ADMIN_SECRET_ARN=SECRETS + admin,
            DATABASE_STEP_SECRET_ARNS=json.dumps(self.step_logins),
        )
        for client in (data_api.client(), aws.client("secretsmanager")):
            self.emulator.attach(client)
            self.callback(self.emulator.detach, client)
{%- else %}
        # Members of rds_iam log in with no password (an IAM token, in AWS); the superuser with its own.
        self.proxy = PgBouncer(url, dict.fromkeys(roles_, "") | {admin: superuser.password or ""}, pool_size)
        self.callback(self.proxy.stop)
        self.step_logins = {step.name: step_role(step.name) for step in STEPS}
        os.environ.update(
            DATABASE_HOST="127.0.0.1",
            DATABASE_PORT=str(self.proxy.port),
            DATABASE_NAME=self.name,
            DATABASE_USER=MIGRATOR_ROLE,
            DATABASE_ADMIN_USER=admin,
            DATABASE_SSLMODE="disable",
        )
        # This thread's connection, if any, belongs to the previous database.
        rds_proxy.close()
        self.callback(rds_proxy.close)
{%- endif %}

    def migrate(self) -> list[str]:
        """Apply the pending migrations as the deployment does: the functions' access path, waiting until ready."""
        return migrate.apply_when_ready()

    def as_step(self, step: str) -> contextlib.AbstractContextManager[None]:
        """Statements inside run as the step's own role, as its functions' do."""
        return roles.logged_in_as(self.step_logins[step])

    def pause(self) -> None:
        """Act as an Aurora paused at zero capacity: nothing reaches the database until ``resume``."""
{%- if saga.database_mode == "data_api" %}
        self.emulator.paused = True
{%- else %}
        self.proxy.kill()
{%- endif %}

    def resume(self) -> None:
{%- if saga.database_mode == "data_api" %}
        self.emulator.paused = False
{%- else %}
        if not self.proxy.running:
            self.proxy.start()
{%- endif %}

    @property
    def tables(self) -> list[str]:
        """The steps' tables: one per folder of migrations."""
        return sorted(path.name for path in migrate.MIGRATIONS.iterdir() if path.is_dir())

    def reset(self) -> None:
        for table in self.tables:
            self.admin.execute(f'TRUNCATE "{table}"')

    def effects(self, saga_id: str) -> dict[str, str | None]:
        """The state of each service's effect for one saga, read directly from PostgreSQL; None when absent."""
        query = 'SELECT state FROM "{}" WHERE saga_id = %s'
        rows = {table: self.admin.execute(query.format(table), (saga_id,)).fetchone() for table in self.tables}
        return {table: None if row is None else str(row[0]) for table, row in rows.items()}

    def server_connections(self) -> dict[str, int]:
        """Connections PostgreSQL holds open to this database right now, by client, besides this one."""
        rows: list[Any] = self.admin.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() GROUP BY application_name",
            (self.name,),
        ).fetchall()
        return {str(name or "(unnamed)"): int(count) for name, count in rows}


def main() -> None:
    """``make migrate``: apply the migrations to the database ``SAGA_DATABASE_URL`` names."""
    if not os.environ.get(URL_VARIABLE):
        sys.exit(f"set {URL_VARIABLE} to the database to migrate (make db starts one and prints it)")
    with LocalDatabase(os.environ[URL_VARIABLE]) as database:
        print("\n".join(f"applied {name}" for name in database.migrate()) or "nothing to apply")


if __name__ == "__main__":
    main()
