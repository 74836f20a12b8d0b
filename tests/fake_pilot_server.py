"""A tiny stand-in for the Pilot API on 127.0.0.1, scriptable to misbehave.

By default it answers like docs/design.md's `POST /api/v1/interactions` (dedupes on `id`) and
`POST /api/v1/feedback`. Queue scripted answers with `script(...)` to make the next requests
fail: a status with headers and body, a hang of N seconds, or a dropped connection.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: bytes | None = None  # None: the normal API answer
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering ("hang")
    drop_connection: bool = False  # close the socket without answering
    store: bool = False  # store the items anyway (a 5xx after commit, or a lost answer)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in self.json.get("interactions", [])]


class FakePilotServer:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.stored: dict[str, dict] = {}
        self.feedback: list[dict] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends every hang at shutdown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakePilotServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *answers: Scripted) -> None:
        with self._lock:
            self._script.extend(answers)

    def interaction_requests(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/api/v1/interactions")]

    def _next(self) -> Scripted:
        with self._lock:
            return self._script.popleft() if self._script else Scripted()

    def _answer(self, path: str, body: bytes, scripted: Scripted) -> bytes:
        """The API's answer, storing the items (when the answer is a 2xx or asked to)."""
        data = json.loads(body)
        if path.endswith("/api/v1/feedback"):
            with self._lock:
                self.feedback.append(data)
            return json.dumps({"ok": True}).encode()
        accepted = duplicates = 0
        ids = []
        with self._lock:
            for item in data["interactions"]:
                if item["id"] in self.stored:
                    duplicates += 1
                else:
                    self.stored[item["id"]] = item
                    accepted += 1
                    ids.append(item["id"])
        return json.dumps({"accepted": accepted, "duplicates": duplicates, "rejected": [], "ids": ids}).encode()

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with fake._lock:
                    fake.requests.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                scripted = fake._next()
                if scripted.delay:
                    fake._release.wait(scripted.delay)
                if scripted.drop_connection:
                    if scripted.store:
                        fake._answer(self.path, body, scripted)
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if scripted.body is None and (200 <= scripted.status < 300 or scripted.store):
                    payload = fake._answer(self.path, body, scripted)
                else:
                    payload = scripted.body if scripted.body is not None else b'{"error": "scripted"}'
                self.send_response(scripted.status)
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def unused_port() -> int:
    """A loopback port nobody listens on (bound, read, released): connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
