"""pgbouncer in transaction pooling mode: the local stand-in for RDS Proxy.

Like the proxy, it lends a server connection to a client for one transaction only, so many clients share a
small pool, and it breaks on the same session state the proxy pins on (``SET``, server-side prepared
statements, temporary tables, advisory locks): code that works through it does not pin the proxy.

It listens on 127.0.0.1 on a free port and admits the users it is given, each logging in to the server as
itself, with the password given (none for members of ``rds_iam``, whom the local server trusts as Aurora trusts
the proxy's IAM check). The real proxy checks IAM tokens and requires TLS, which the code under test still
produces and asks for (``DATABASE_SSLMODE`` is ``disable`` only here).
"""

import os
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from devtools.local_postgres import free_port, private_folder
from devtools.prerequisites import program

START_TIMEOUT_SECONDS = 10


class PgBouncer:
    """pgbouncer in front of one database of a PostgreSQL server, for ``users`` (name: password)."""

    def __init__(
        self, database_url: str, users: Mapping[str, str], pool_size: int = 5, max_clients: int = 1100
    ) -> None:
        target = urlsplit(database_url)
        self.database = target.path.lstrip("/")
        self.pool_size = pool_size
        self.port = free_port()
        self.folder = private_folder("saga-pgbouncer-")
        self.process: subprocess.Popen[bytes] | None = None
        config = self.folder / "pgbouncer.ini"
        # Since 1.21 pgbouncer keeps protocol-level prepared statements working across server
        # connections, which RDS Proxy does not: turned off, it breaks on them as the proxy would.
        prepared = "max_prepared_statements = 0\n" if version() >= (1, 21) else ""
        config.write_text(
            "[databases]\n"
            f"{self.database} = host={target.hostname} port={target.port or 5432} dbname={self.database}"
            f" pool_size={pool_size}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"max_client_conn = {max_clients}\nlisten_backlog = 4096\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n{prepared}",
            encoding="utf-8",
        )
        (self.folder / "users.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()), encoding="utf-8")
        if os.geteuid() == 0:
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres", "postgres")
        self.start()

    def start(self) -> None:
        """Start (again), on the same port."""
        # It refuses root: as root, it runs as postgres, with no login in between to lower its open-files limit.
        server_user: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []}
        self.process = subprocess.Popen(  # noqa: S603
            [program("pgbouncer"), str(self.folder / "pgbouncer.ini")],
            preexec_fn=_raise_open_files_limit,  # noqa: PLW1509 - no threads start pgbouncer
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **(server_user if os.geteuid() == 0 else {}),
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or not self.running:
                    raise
                time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Stop it at once, as a crash would: every client connection drops."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _raise_open_files_limit() -> None:
    """One descriptor per client and per server connection: as many as the hard limit allows."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def version() -> tuple[int, ...]:
    """pgbouncer's version, as ``pgbouncer -V`` prints it (``PgBouncer 1.18.0``)."""
    printed = subprocess.run([program("pgbouncer"), "-V"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    return tuple(int(part) for part in printed.split()[1].split(".")[:2])
