"""The one RQ queue, its Redis connection, and the in-process fallback when Redis is not there."""
from __future__ import annotations

import importlib
import logging
import re
import time
from typing import Any, Callable

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import DuplicateJobError

log = logging.getLogger(__name__)
_connections: dict[str, Redis] = {}
_down_until: dict[str, float] = {}
_fallback_said = False
RETRY_DOWN_AFTER_S = 30  # a Redis that did not answer is not asked again for this long


def redis_connection() -> Redis | None:
    """A connection to REDIS_URL that answers a PING, else None (no URL, or Redis down; a down
    Redis is not re-tried for RETRY_DOWN_AFTER_S, so requests do not each wait for its timeout)."""
    url = current_app.config.get("REDIS_URL")
    if not url or _down_until.get(url, 0) > time.monotonic():
        return None
    connection = _connections.get(url)
    if connection is None:
        connection = _connections[url] = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5)
    try:
        connection.ping()
    except (RedisError, OSError):
        _down_until[url] = time.monotonic() + RETRY_DOWN_AFTER_S
        return None
    return connection


def queue_name() -> str:
    return current_app.config.get("WORKER_QUEUE", "pilot")


def get_queue(connection: Redis | None = None) -> Queue | None:
    connection = connection or redis_connection()
    return Queue(queue_name(), connection=connection) if connection is not None else None


def retry_policy() -> Retry:
    """Deliveries are retried with growing waits (WORKER_RETRY_INTERVALS, seconds)."""
    intervals = list(current_app.config.get("WORKER_RETRY_INTERVALS", [10, 60, 300]))
    return Retry(max=len(intervals), interval=intervals)


def _say_fallback_once(reason: str) -> None:
    global _fallback_said
    if not _fallback_said:
        _fallback_said = True
        log.warning("No background worker queue (%s): jobs run in-process, in the request that asks for them.", reason)


def job_function(func: str | Callable[..., Any]) -> Callable[..., Any]:
    """The function a job names: callers name jobs by dotted string ("pilot.worker.jobs.reflag_pilot"),
    as RQ does, so this module and the capabilities that queue work import no job module."""
    if callable(func):
        return func
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)


def enqueue(func: str | Callable[..., Any], *args: Any, retry: bool = False, job_timeout: int | None = None) -> str:
    """Run `func(*args)` in the worker (`func` a dotted name or a function); returns "queued", or
    "ran" when, without Redis, it ran here and now (retried at once, without waiting, when `retry`)."""
    queue = get_queue()
    if queue is not None:
        try:
            options: dict[str, Any] = {"retry": retry_policy()} if retry else {}
            if job_timeout:
                options["job_timeout"] = job_timeout
            queue.enqueue(func, *args, **options)
            return "queued"
        except RedisError as error:
            _say_fallback_once(f"Redis error {error}")
    else:
        _say_fallback_once("REDIS_URL not set" if not current_app.config.get("REDIS_URL") else "Redis unreachable")
    attempts = 1 + (retry_policy().max if retry else 0)
    function = job_function(func)
    for attempt in range(attempts):
        try:
            function(*args)
            break
        except Exception:  # the job records its own failure; like RQ, a failed job does not fail the caller
            log.exception("In-process job %s failed (attempt %d of %d)", getattr(function, "__name__", func),
                          attempt + 1, attempts)
    return "ran"


def _enqueue_once_per_pilot(function: str, kind: str, pilot_id: int, what: str) -> str:
    """Queue `function(pilot_id)` unless the same job is already waiting (one at a time per pilot).
    The caller's work is committed already, so a failure to queue is logged, never raised."""
    queue = get_queue()
    if queue is None:
        return "skipped"
    job_id = re.sub(r"[^A-Za-z0-9_-]", "_", f"{queue.name}-{kind}-{pilot_id}")  # RQ's job id alphabet
    try:
        queue.enqueue(function, pilot_id, job_id=job_id, unique=True, result_ttl=0, failure_ttl=60)
    except DuplicateJobError:
        return "already queued"
    except Exception:  # noqa: BLE001  an optimisation must not turn a committed request into a 500
        log.exception("Could not queue the %s of pilot %s", what, pilot_id)
        return "skipped"
    return "queued"


def refresh_rollup_soon(pilot_id: int) -> str:
    """After ingest: queue one dashboard rollup refresh for the pilot (one at a time: a refresh
    already waiting covers this batch too). Without Redis nothing runs here: the dashboard refreshes
    the pending days in a short transaction of its own before it reads (rollup.refresh_apart)."""
    return _enqueue_once_per_pilot("pilot.worker.jobs.refresh_rollup", "rollup", pilot_id, "rollup refresh")


def refresh_live_verdict_soon(pilot_id: int) -> str:
    """After a snapshot is taken or signed: queue one live verdict refresh for the pilot (one at a
    time). Without Redis nothing runs here (building the report would slow the request down): the
    worker's next scheduled run picks the change up."""
    return _enqueue_once_per_pilot("pilot.worker.jobs.refresh_live_verdict", "live-verdict", pilot_id,
                                   "live verdict refresh")


def status() -> dict[str, Any]:
    """For /readyz: is Redis reachable, how long is the queue, how many workers listen to it."""
    if not current_app.config.get("REDIS_URL"):
        return {"mode": "in-process", "redis": "not configured"}
    connection = redis_connection()
    if connection is None:
        return {"mode": "in-process", "redis": "unreachable"}
    try:
        queue = get_queue(connection)
        return {"mode": "rq", "redis": "ok", "queue": queue.name, "queued": queue.count,
                "workers": Worker.count(connection=connection, queue=queue)}
    except RedisError as error:
        return {"mode": "in-process", "redis": f"error: {error}"}
