"""An HTTP front on a rendered project's Data API emulation, so that separate processes can call it.

``rds-data`` is a REST-JSON protocol: each operation is a POST to its own path with the request's
members as a JSON body, and an error is a status code, an ``x-amzn-ErrorType`` header and a
``message``. A function points its client here with ``AWS_ENDPOINT_URL_RDS_DATA``; botocore builds,
signs and parses the requests as it would for AWS. The emulation's secrets are served too, for
``AWS_ENDPOINT_URL_SECRETS_MANAGER``: a JSON-protocol POST naming its operation in ``X-Amz-Target``.
Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

OPERATIONS = {
    "/Execute": "execute_statement",
    "/BeginTransaction": "begin_transaction",
    "/CommitTransaction": "commit_transaction",
    "/RollbackTransaction": "rollback_transaction",
    "secretsmanager.GetSecretValue": "get_secret_value",
}


class DataApiFront:
    """Serves ``emulator`` (a ``devtools.data_api_emulator.DataApiEmulator``) over HTTP until closed."""

    def __init__(self, emulator: Any) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
            # Headers and body leave in separate writes: without this, each answer waits for a delayed ACK.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, answer = front.answer(self.headers.get("X-Amz-Target") or self.path, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the measured functions' requests are not worth a line each."""

        self.emulator = emulator
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        operation = OPERATIONS.get(path.split("?", 1)[0])
        if operation is None:
            return 404, {"x-amzn-ErrorType": "UnknownOperationException"}, {"message": f"not emulated: {path}"}
        try:
            return 200, {}, getattr(self.emulator, operation)(json.loads(body or b"{}"))
        except Exception as error:  # the emulator's DataApiError carries its code and status; anything else is a bug
            code = getattr(error, "code", "InternalServerErrorException")
            return getattr(error, "status", 500), {"x-amzn-ErrorType": code}, {"message": str(error)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def __enter__(self) -> DataApiFront:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
