"""One keep-alive HTTP connection to the Pilot server, standard library only.

The client's worker thread is the only user, so there is no pool: one connection, reopened
after any error. Every socket operation is bounded by `timeout`, and the answer's body is read
up to a cap, so a hanging or babbling server costs the worker at most a timeout, never memory.
"""
from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 1024 * 1024  # an answer is a small JSON object; read no more than this


class TransportConfigError(ValueError):
    """The URL cannot be used (not http/https, no host)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class HttpTransport:
    """POST JSON bodies to one base URL with a Bearer key, reusing the connection."""

    def __init__(self, base_url: str, key: str, timeout: float, user_agent: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportConfigError(f"Pilot URL must be http:// or https:// with a host, got {base_url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> Response:
        """Send one request; raises OSError/HTTPException on network trouble (the caller retries)."""
        return self._request("POST", path, body)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """One GET (the prompt API), with extra headers such as If-None-Match."""
        return self._request("GET", path, None, headers)

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None = None) -> Response:
        """A kept-alive connection the server has since closed fails at once on reuse; that one
        case is retried here on a fresh connection, since nothing reached the server."""
        reused = self._connection is not None
        try:
            return self._send(method, path, body, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            return self._send(method, path, body, headers)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken socket may fail; it is gone either way
                pass

    def _send(self, method: str, path: str, body: bytes | None, extra_headers: dict[str, str] | None) -> Response:
        connection = self._connect()
        try:
            connection.request(method, self._prefix + path, body=body, headers={**self._headers, **(extra_headers or {})})
            answer = connection.getresponse()
            data = answer.read(MAX_RESPONSE_BYTES)
            headers = {name.lower(): value for name, value in answer.getheaders()}
            if answer.will_close or not answer.isclosed():
                # Server closes, or it sent more than we read: this connection is not reusable.
                self.close()
            return Response(answer.status, headers, data)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection
