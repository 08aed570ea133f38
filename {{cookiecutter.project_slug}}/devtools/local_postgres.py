"""A throwaway PostgreSQL server on 127.0.0.1 for tests, benchmarks and local runs.

``PostgresServer()`` starts a fresh cluster in a temporary folder on a free port (no durability) and removes
it on ``close()``. Users log in with their password; members of ``rds_iam`` are trusted, as Aurora trusts the
IAM check of the proxy in front of it. With ``SAGA_DATABASE_URL`` set (a superuser URL, for example
``postgresql://postgres:secret@127.0.0.1:5432/postgres``) it uses that server and starts nothing. As root
(CI containers) the server runs as the ``postgres`` user the packages create: it refuses root.

    python -m devtools.local_postgres   # serve one until Ctrl-C and print its URL
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from devtools.prerequisites import program

URL_VARIABLE = "SAGA_DATABASE_URL"
SUPERUSER = PASSWORD = "saga"  # noqa: S105 - a throwaway server on loopback
# Local sockets trusted; over TCP, members of rds_iam are, anyone else gives a password.
ACCESS = "local all all trust\nhost all +rds_iam 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL and pgbouncer refuse root: run them as ``postgres`` when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def private_folder(prefix: str) -> Path:
    """A temporary folder the server programs may write to."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


class PostgresServer:
    """One PostgreSQL server; ``url`` is a superuser URL of its ``postgres`` database."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        if existing := os.environ.get(URL_VARIABLE):
            self.url = existing
            return
        self.folder = private_folder("saga-postgres-")
        data, port = self.folder / "data", free_port()
        self._run([program("initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8", "--no-sync"])
        (data / "pg_hba.conf").write_text(ACCESS, encoding="utf-8")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {self.folder} -F -c max_connections=200"
        log = self.folder / "server.log"
        self._run([program("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"])
        self.url = f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{port}/postgres"
        with psycopg.connect(host=str(self.folder), port=port, user=SUPERUSER, dbname="postgres") as admin:
            admin.execute(f"ALTER ROLE {SUPERUSER} PASSWORD '{PASSWORD}'")
            admin.execute("CREATE ROLE rds_iam")  # as in Aurora

    def create_database(self, name: str) -> str:
        """A new empty database (an older one of that name is dropped); returns its URL."""
        self.drop_database(name)
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.folder is None:
            return
        self._run([program("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    @staticmethod
    def _run(command: list[str]) -> None:
        subprocess.run(as_server_user(command), check=True, capture_output=True)  # noqa: S603


def postgres_server() -> contextlib.closing[PostgresServer]:
    return contextlib.closing(PostgresServer())


def main() -> None:
    with postgres_server() as server:
        print(f"export {URL_VARIABLE}={server.url}", flush=True)
        print("PostgreSQL is running; Ctrl-C stops it and deletes its data.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
