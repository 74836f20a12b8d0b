"""PilotClient: log interactions and feedback from the AI feature, without ever hurting it.

The host's thread only copies the fields into a bounded in-memory queue (microseconds, no I/O,
no exception). One daemon thread per client takes batches off the queue and POSTs them to
`/api/v1/interactions` (and feedback to `/api/v1/feedback`), retrying with exponential backoff
and jitter on connection errors, 408, 429 (honouring Retry-After) and 5xx. Another 4xx is the
server saying no: the batch is logged and dropped, not retried. Every loss is counted in
`client.stats` and logged (rate-limited) on the `pilot.client` logger.

Each interaction carries a client-generated event id, so a retry whose first attempt was in
fact stored is a duplicate on the server, not a second row.
"""
from __future__ import annotations

import atexit
import email.utils
import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.parse
import weakref
from collections import deque
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from typing import Any, Literal

from ._items import encode, feedback_payload, new_event_id, normalise_interaction
from ._transport import HttpTransport, Response, TransportConfigError

logger = logging.getLogger("pilot.client")

INTERACTIONS_PATH = "/api/v1/interactions"
FEEDBACK_PATH = "/api/v1/feedback"
SERVER_BATCH_LIMIT = 1000  # docs/design.md: at most 1,000 interactions per request
SERVER_BODY_LIMIT = 10 * 1024 * 1024  # docs/design.md: a body over 10 MB is refused with 413
USER_AGENT = "pilot-client-python/1"


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of what happened to everything handed to the client so far."""

    queued: int = 0  # waiting in memory, or being sent right now
    sent: int = 0  # interactions the server stored as new rows
    duplicates: int = 0  # interactions the server already had (a retry whose first try landed)
    feedback_sent: int = 0
    rejected: int = 0  # refused by the server (bad field, bad key, …): logged, never retried
    dropped_queue_full: int = 0  # the queue held max_queue items already
    dropped_after_retries: int = 0  # the server stayed unreachable or failing for every retry
    dropped_unsendable: int = 0  # could not be encoded as JSON, or larger than the server accepts
    dropped_closed: int = 0  # handed over after close(), or still queued when close() gave up
    retries: int = 0  # repeated requests (each retry of a batch counts once)

    @property
    def lost(self) -> int:
        """Everything that will never reach the database."""
        return (self.rejected + self.dropped_queue_full + self.dropped_after_retries
                + self.dropped_unsendable + self.dropped_closed)


_COUNTERS = tuple(f.name for f in dataclass_fields(ClientStats) if f.name != "queued")


class _Throttle:
    """Log a recurring problem once per `interval` seconds, with how often it happened since."""

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        logger.log(level, message, *args)


class _PromptCache:
    """Prompt answers by (prompt, user) with their ETags; its own connection and lock, so the
    host's calls never share a socket with the sending thread."""

    def __init__(self) -> None:
        self.transport: HttpTransport | None = None
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str | None], tuple[str | None, dict[str, Any]]] = {}
        self._latest: dict[str, dict[str, Any]] = {}  # any user's last answer per prompt: the fallback

    def fallback(self, name: str, user: str | None) -> dict[str, Any] | None:
        with self._lock:
            cached = self._answers.get((name, user))
            return dict(cached[1]) if cached else (dict(self._latest[name]) if name in self._latest else None)

    def get(self, name: str, user: str | None, slug: str | None) -> dict[str, Any] | None:
        if self.transport is None or not slug:
            if not slug:
                logger.warning("Pilot prompt %r: no pilot slug (argument `pilot` or PILOT_SLUG)", name)
            return self.fallback(name, user)
        query = urllib.parse.urlencode({"user": user}) if user else ""
        path = (f"/api/v1/pilots/{urllib.parse.quote(slug, safe='')}/prompts/{urllib.parse.quote(name, safe='')}"
                + (f"?{query}" if query else ""))
        with self._lock:
            cached = self._answers.get((name, user))
            headers = {"If-None-Match": cached[0]} if cached and cached[0] else {}
            try:
                response = self.transport.get(path, headers)
            except (OSError, http.client.HTTPException) as error:
                self.transport.close()
                logger.warning("Pilot unreachable for prompt %r (%s): using the last version seen", name, error)
                response = None
        if response is not None and response.status == 304 and cached:
            return dict(cached[1])
        if response is not None and response.status == 200:
            answer = json.loads(response.body)
            with self._lock:
                self._answers[(name, user)] = (response.headers.get("etag"), answer)
                self._latest[name] = answer
            return dict(answer)
        if response is not None:
            logger.warning("Pilot answered %s for prompt %r: using the last version seen", response.status, name)
        return self.fallback(name, user)


class PilotClient:
    """Send interactions and feedback to a Pilot server from a background thread.

    >>> pilot = PilotClient("https://pilot.example.com", "pk_…")
    >>> event_id = pilot.log_interaction(user="u1", model="claude-sonnet-4-6", input=q, output=a,
    ...                                  input_tokens=812, output_tokens=95, latency_ms=1430)
    >>> pilot.feedback(event_id, user="u1", thumbs="up")
    >>> with pilot.trace(model="claude-sonnet-4-6", user="u1", input=q) as call:
    ...     call.output = ask_the_model(q)

    `url` and `key` default to the PILOT_URL and PILOT_API_KEY environment variables; without
    them (or with an unusable URL) the client logs one warning and does nothing, so a missing
    setting never breaks the host. No method raises and none blocks longer than its timeout.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        batch_size: int = 100,
        flush_interval: float = 2.0,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        drop: Literal["oldest", "newest"] = "oldest",
        max_batch_bytes: int = 8 * 1024 * 1024,
        atexit_timeout: float = 2.0,
    ) -> None:
        self._batch_size = max(1, min(int(batch_size), SERVER_BATCH_LIMIT))
        self._flush_interval = max(0.001, float(flush_interval))
        self._max_queue = max(1, int(max_queue))
        self._max_retries = max(0, int(max_retries))
        self._backoff_base = max(0.0, float(backoff_base))
        self._backoff_max = max(self._backoff_base, float(backoff_max))
        self._max_retry_after = max(0.0, float(max_retry_after))
        self._drop_oldest = drop != "newest"
        self._max_batch_bytes = max(1024, min(int(max_batch_bytes), SERVER_BODY_LIMIT - 1024))
        self._atexit_timeout = float(atexit_timeout)
        self._throttle = _Throttle()
        self._warned_fields: set[str] = set()
        self._init_runtime_state()
        self._transport: HttpTransport | None = None
        self._prompts = _PromptCache()
        url = url or os.environ.get("PILOT_URL")
        key = key or os.environ.get("PILOT_API_KEY")
        if not url or not key:
            logger.warning("Pilot client disabled: no %s given (argument or environment variable)",
                           "URL (PILOT_URL)" if not url else "API key (PILOT_API_KEY)")
            return
        try:
            self._transport = HttpTransport(url, key, float(timeout), USER_AGENT)
            self._prompts.transport = HttpTransport(url, key, float(timeout), USER_AGENT)
        except TransportConfigError as error:
            logger.warning("Pilot client disabled: %s", error)
            return
        _live_clients.add(self)

    # ----------------------------------------------------------------- public API (host thread)

    def log_interaction(self, **fields: Any) -> str:
        """Queue one interaction (docs/design.md's fields) and return its event id at once.

        `id` is generated (uuid4 hex) unless given; `timestamp` defaults to now, taken here
        rather than when the batch leaves. Unknown field names are kept under `metadata`.
        """
        event_id = new_event_id()
        try:
            if fields.get("id"):
                event_id = str(fields["id"])
            item, unknown = normalise_interaction(fields, event_id)
            if unknown:
                self._warn_unknown_fields(unknown)
            self._enqueue("interaction", item)
        except Exception:  # the promise: nothing raises into the host
            logger.exception("Pilot client could not queue an interaction; it is dropped")
        return event_id

    def feedback(self, interaction_id: str, user: str | None = None, thumbs: str | None = None,
                 rating: int | None = None, comment: str | None = None) -> bool:
        """Queue a rating of an interaction: thumbs 'up'/'down' or rating 1..5, with a comment.

        Sent after every interaction queued before it, so it never overtakes the one it rates.
        Returns whether it was queued (False, with a logged warning, for invalid values).
        """
        try:
            payload = feedback_payload(interaction_id, user, thumbs, rating, comment)
        except ValueError as error:
            logger.warning("Pilot feedback not sent: %s", error)
            return False
        try:
            return self._enqueue("feedback", payload)
        except Exception:
            logger.exception("Pilot client could not queue feedback; it is dropped")
            return False

    def trace(self, *, input_arg: str | None = None, user_arg: str | None = None,
              session_arg: str | None = None, **fields: Any):
        """Time one model call, as a context manager or a decorator (sync or async).

        `with client.trace(model=…, user=…, input=q) as call:` yields a `Call`; set
        `call.output`, `call.input_tokens`, … (or `call.record(...)`, `call.usage_from(resp)`).
        Latency is measured; an exception marks the call `error` (`timeout`, `rate_limited`
        for those kinds) with its message, and is re-raised unchanged.
        As a decorator, `input_arg`/`user_arg`/`session_arg` name the parameters holding
        those values (input defaults to a first positional str), and a str return value (or
        an SDK response with `.usage`) is recorded as the output.
        """
        from .tracing import Trace

        return Trace(self, fields, input_arg=input_arg, user_arg=user_arg, session_arg=session_arg)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is queued now; wait at most `timeout` seconds.

        Returns True when nothing is left pending (everything sent, or definitively dropped
        and counted), False when the time ran out with items still queued or in flight.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            with self._cond:
                if not self._pending():
                    return True
                self._ensure_worker()
                self._flush_requested = True
                self._wake.set()
                while self._pending():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.5))
                    self._wake.set()
                return True
        except Exception:
            logger.exception("Pilot client flush failed")
            return False

    def prompt(self, name: str, user: str | None = None, *, pilot: str | None = None) -> dict[str, Any] | None:
        """The prompt version `user` gets: `{"name", "version", "label", "template", "prompt_version", …}`.

        Asks `GET /api/v1/pilots/<pilot>/prompts/<name>?user=…` (`pilot`: the pilot's slug, else
        PILOT_SLUG) in the calling thread, at most `timeout` seconds, sending the last ETag so an
        unchanged answer is a bodyless 304. When Pilot is unreachable or answers an error, the
        last version seen for this user (else for this prompt) is returned, and None only if
        none was ever seen. Send the answer's `prompt_version` back on the interaction. Never raises.
        """
        try:
            return self._prompts.get(name, user, pilot or os.environ.get("PILOT_SLUG"))
        except Exception:
            logger.exception("Pilot client could not fetch prompt %r", name)
            return self._prompts.fallback(name, user)

    def close(self, timeout: float = 5.0) -> bool:
        """Flush (up to `timeout` s), then stop the worker. Later calls are dropped and counted."""
        try:
            delivered = self.flush(timeout) if not self._closed else True
            with self._cond:
                self._closed = True
                self._stop.set()
                self._wake.set()
                thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=min(1.0, max(0.0, timeout)))
            with self._cond:
                self._drop_queue("dropped_closed")
            if self._transport is not None:
                self._transport.close()
            _live_clients.discard(self)
            return delivered
        except Exception:
            logger.exception("Pilot client close failed")
            return False

    @property
    def stats(self) -> ClientStats:
        with self._lock:
            return ClientStats(queued=self._pending(), **self._counts)

    @property
    def enabled(self) -> bool:
        return self._transport is not None and not self._closed

    def __enter__(self) -> "PilotClient":
        return self

    def __exit__(self, *exc_info: Any) -> Literal[False]:
        self.close()
        return False

    # ---------------------------------------------------------------- queue (any thread)

    def _init_runtime_state(self) -> None:
        """Locks, queue, worker handle: everything that must be fresh in a forked child."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._in_flight = 0
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._counts = {name: 0 for name in _COUNTERS}

    def _after_fork_in_child(self) -> None:
        """The parent's thread does not exist here, and it still sends the parent's queue."""
        self._init_runtime_state()
        if self._transport is not None:
            self._transport._connection = None  # the parent's socket: do not use, do not close

    def _pending(self) -> int:
        return len(self._queue) + self._in_flight

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> bool:
        dropped = None
        with self._lock:
            if self._transport is None:
                return False
            if self._closed:
                self._counts["dropped_closed"] += 1
                dropped = "closed"
            else:
                self._ensure_worker()
                if len(self._queue) >= self._max_queue:
                    self._counts["dropped_queue_full"] += 1
                    dropped = "full"
                    if self._drop_oldest:
                        self._queue.popleft()
                        self._queue.append((kind, payload))
                else:
                    self._queue.append((kind, payload))
                if len(self._queue) >= self._batch_size:
                    self._wake.set()
        if dropped == "closed":
            self._throttle.log(logging.WARNING, "closed", "Pilot client is closed; %s dropped", kind)
            return False
        if dropped == "full":
            self._throttle.log(logging.WARNING, "full",
                               "Pilot client queue is full (%d items; server slow or unreachable); "
                               "dropping the %s item", self._max_queue, "oldest" if self._drop_oldest else "newest")
            return self._drop_oldest
        return True

    def _ensure_worker(self) -> None:
        """Start the sending thread on first use (after a fork, too). Caller holds the lock."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="pilot-client", daemon=True)
            self._thread.start()

    def _drop_queue(self, counter: str) -> None:
        """Count every queued item as lost. Caller holds the lock."""
        if self._queue:
            self._counts[counter] += len(self._queue)
            logger.warning("Pilot client dropped %d queued items (%s)", len(self._queue), counter)
            self._queue.clear()
        self._cond.notify_all()

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[name] += value

    def _warn_unknown_fields(self, names: list[str]) -> None:
        new = [name for name in names if name not in self._warned_fields]
        if new:
            self._warned_fields.update(new)
            logger.warning("Pilot interaction fields %s are not in the API; kept under metadata", ", ".join(new))

    # ---------------------------------------------------------------- worker thread

    def _run(self) -> None:
        while not self._stop.is_set():
            # Woken early: a batch is full, or flush()/close() asked. Woken by the timer: send
            # whatever is there. A partial batch otherwise waits, so busy hosts send full ones.
            woken_early = self._wake.wait(self._flush_interval)
            self._wake.clear()
            while not self._stop.is_set():
                taken = self._take(partial_ok=not woken_early or self._flush_requested)
                if taken is None:
                    break
                kind, payloads = taken
                try:
                    if kind == "feedback":
                        self._deliver_feedback(payloads[0])
                    else:
                        self._deliver_interactions(payloads)
                except Exception:
                    logger.exception("Pilot client failed to deliver %d %s items; dropped", len(payloads), kind)
                    self._add(dropped_after_retries=len(payloads))
                finally:
                    with self._cond:
                        self._in_flight = 0
                        self._cond.notify_all()

    def _take(self, partial_ok: bool = True) -> tuple[str, list[dict[str, Any]]] | None:
        """The next batch: one feedback, or up to batch_size consecutive interactions."""
        with self._lock:
            if not self._queue:
                self._flush_requested = False
                return None
            if not partial_ok and len(self._queue) < self._batch_size:
                return None
            kind = self._queue[0][0]
            if kind == "feedback":
                self._in_flight = 1
                return kind, [self._queue.popleft()[1]]
            batch = []
            while self._queue and len(batch) < self._batch_size and self._queue[0][0] == kind:
                batch.append(self._queue.popleft()[1])
            self._in_flight = len(batch)
            return kind, batch

    def _deliver_interactions(self, items: list[dict[str, Any]]) -> None:
        encoded: list[tuple[str, bytes]] = []
        for item in items:
            try:
                body = encode(item)
            except Exception as error:
                logger.warning("Pilot interaction %s cannot be encoded as JSON (%s); dropped", item.get("id"), error)
                self._add(dropped_unsendable=1)
                continue
            if len(body) > self._max_batch_bytes:
                logger.warning("Pilot interaction %s is %d bytes, over the %d-byte request limit; dropped",
                               item.get("id"), len(body), self._max_batch_bytes)
                self._add(dropped_unsendable=1)
                continue
            encoded.append((str(item.get("id")), body))
        for chunk in self._chunks_by_size(encoded):
            self._send_interactions(chunk)

    def _chunks_by_size(self, encoded: list[tuple[str, bytes]]):
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for entry in encoded:
            if chunk and size + len(entry[1]) + 1 > self._max_batch_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(entry)
            size += len(entry[1]) + 1
        if chunk:
            yield chunk

    def _send_interactions(self, chunk: list[tuple[str, bytes]]) -> None:
        body = b'{"interactions":[' + b",".join(part for _, part in chunk) + b"]}"
        response = self._post_with_retries(INTERACTIONS_PATH, body, len(chunk), "interactions")
        if response is None:
            return
        if 200 <= response.status < 300:
            self._settle_interactions(response, [event_id for event_id, _ in chunk])
        elif response.status == 413 and len(chunk) > 1:
            half = len(chunk) // 2
            self._send_interactions(chunk[:half])
            self._send_interactions(chunk[half:])
        else:
            self._refused(response, len(chunk), "interactions")

    def _settle_interactions(self, response: Response, event_ids: list[str]) -> None:
        """Count a 200's answer; a 200 means stored, even when its body makes no sense."""
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self._throttle.log(logging.WARNING, "garbage", "Pilot answered %d with a body that is not the API's "
                               "JSON object; counting %d interactions as stored", response.status, len(event_ids))
            self._add(sent=len(event_ids))
            return
        rejected = answer.get("rejected") if isinstance(answer.get("rejected"), list) else []
        for entry in rejected:
            index = entry.get("index") if isinstance(entry, dict) else None
            event_id = event_ids[index] if isinstance(index, int) and 0 <= index < len(event_ids) else "?"
            reason = entry.get("error") if isinstance(entry, dict) else entry
            self._throttle.log(logging.WARNING, f"rejected:{reason}", "Pilot rejected interaction %s: %s",
                               event_id, reason)
        duplicates = _non_negative_int(answer.get("duplicates"), 0)
        accepted = _non_negative_int(answer.get("accepted"), len(event_ids) - len(rejected) - duplicates)
        self._add(sent=accepted, duplicates=duplicates, rejected=len(rejected))

    def _deliver_feedback(self, payload: dict[str, Any]) -> None:
        try:
            body = encode(payload)
        except Exception as error:
            logger.warning("Pilot feedback cannot be encoded (%s); dropped", error)
            self._add(dropped_unsendable=1)
            return
        response = self._post_with_retries(FEEDBACK_PATH, body, 1, "feedback")
        if response is None:
            return
        if 200 <= response.status < 300:
            self._add(feedback_sent=1)
        else:
            self._refused(response, 1, "feedback")

    def _refused(self, response: Response, count: int, what: str) -> None:
        """A 4xx other than 408/429: the server will say the same again, so log and drop."""
        self._add(rejected=count)
        excerpt = response.body[:300].decode("utf-8", "replace")
        if response.status in (401, 403):
            self._throttle.log(logging.ERROR, f"auth:{response.status}",
                               "Pilot refused the API key (HTTP %d): %d %s dropped; check PILOT_API_KEY. %s",
                               response.status, count, what, excerpt)
        else:
            self._throttle.log(logging.WARNING, f"refused:{response.status}",
                               "Pilot refused %d %s with HTTP %d; dropped, not retried: %s",
                               count, what, response.status, excerpt)

    def _post_with_retries(self, path: str, body: bytes, count: int, what: str) -> Response | None:
        """POST until the server answers something final; None when the items were dropped."""
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._transport.post(path, body)  # type: ignore[union-attr]
            except (OSError, http.client.HTTPException) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if not _retryable(response.status):
                    return response
                problem = f"HTTP {response.status}"
                retry_after = _retry_after_seconds(response.headers.get("retry-after"))
            if attempt >= self._max_retries:
                self._throttle.log(logging.ERROR, "gave-up", "Pilot unreachable or failing (%s) after %d retries: "
                                   "%d %s dropped", problem, attempt, count, what)
                self._add(dropped_after_retries=count)
                return None
            delay = self._delay(attempt, retry_after)
            self._throttle.log(logging.WARNING, f"retry:{problem[:40]}", "Pilot request failed (%s); "
                               "retrying %d %s in %.1f s", problem, count, what, delay)
            attempt += 1
            self._add(retries=1)
            if self._stop.wait(delay):
                self._add(dropped_closed=count)
                return None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the server gave one (capped), else exponential backoff with jitter."""
        if retry_after is not None:
            return min(retry_after, self._max_retry_after) + random.uniform(0, 0.1)
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _at_exit(self) -> None:
        if self._pending():
            logger.debug("Pilot client flushing %d items at exit", self._pending())
        self.close(self._atexit_timeout)


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date; anything else is ignored."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _non_negative_int(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return max(0, default)


# Clients alive in this process: flushed at exit, reset in a forked child (gunicorn --preload).
_live_clients: "weakref.WeakSet[PilotClient]" = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for client in list(_live_clients):
        try:
            client._at_exit()
        except Exception:  # pragma: no cover - last words of a dying interpreter
            pass


def _reset_all_after_fork() -> None:
    for client in list(_live_clients):
        client._after_fork_in_child()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_all_after_fork)

__all__ = ["PilotClient", "ClientStats"]
