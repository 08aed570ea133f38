"""pgbouncer in transaction pooling mode: the local stand-in for RDS Proxy.

Like the proxy, it lends a server connection to a client for one transaction only,
so many clients share a small pool, and it breaks on the same session state the
proxy pins on (``SET``, server-side prepared statements, temporary tables, advisory
locks). Code that works through it does not pin the proxy.

It listens on 127.0.0.1 on a free port and admits the users it is given, each logging in
to the server as itself, with the password given (none for members of ``rds_iam``, whom
the local server trusts as Aurora trusts the proxy's IAM check). The real proxy checks
IAM tokens and requires TLS, which the code under test still produces and asks for
(``DATABASE_SSLMODE`` is ``disable`` only here).
"""

import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from devtools.local_postgres import as_server_user, free_port, private_folder
from devtools.prerequisites import missing

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
        self.running = False
        # One descriptor per client and per server connection, plus its own files.
        self.open_files = max_clients + pool_size + 64
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
            f"logfile = {self.folder / 'pgbouncer.log'}\npidfile = {self.folder / 'pgbouncer.pid'}\n{prepared}",
            encoding="utf-8",
        )
        (self.folder / "users.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()), encoding="utf-8")
        if os.geteuid() == 0:
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres", "postgres")
        self.start()

    def start(self) -> None:
        """Start (again), on the same port."""
        command = [executable(), "-d", str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # runuser applies the login limits (often 1,024 open files): raise them for pgbouncer itself.
            command = as_server_user(["prlimit", f"--nofile={self.open_files}", *command])
        subprocess.run(command, check=True, preexec_fn=self._raise_open_files_limit)  # noqa: S603
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                self.running = True
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _raise_open_files_limit(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < self.open_files:
            limit = self.open_files if hard == resource.RLIM_INFINITY else min(self.open_files, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    def kill(self) -> None:
        """Stop it at once, as a crash would: every client connection drops."""
        pidfile = self.folder / "pgbouncer.pid"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int(pidfile.read_text(encoding="utf-8"))
        os.kill(pid, signal.SIGKILL)
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        pidfile.unlink(missing_ok=True)
        self.running = False

    def stop(self) -> None:
        if self.running:
            self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path: Path = self.folder / "pgbouncer.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""


def executable() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").is_file() else None)
    if found is None:
        raise RuntimeError(" ".join(missing("local-run")))
    return found


def version() -> tuple[int, ...]:
    """pgbouncer's version, as ``pgbouncer -V`` prints it (``PgBouncer 1.18.0``)."""
    printed = subprocess.run([executable(), "-V"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    return tuple(int(part) for part in printed.split()[1].split(".")[:2])


def _alive(pid: int) -> bool:
    """Running: a killed daemon may linger as a zombie until its parent (init) reaps it."""
    if not Path("/proc").is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"
