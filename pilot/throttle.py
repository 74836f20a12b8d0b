"""Counting failures (bad passwords, bad API keys) in the rate limiter's storage.

A request limit counts every request; these count only failures, under a key the caller chooses
(an account, a client address), in tiers that act as a backoff: a few failures a minute, more an
hour, more a day. They share the limiter's storage (Redis when REDIS_URL is set, so every worker
sees the same counts) and its in-memory fallback.
"""
from __future__ import annotations

import logging
import math
import time

from flask import current_app
from limits import parse_many

from pilot.extensions import limiter

log = logging.getLogger(__name__)


class FailureThrottle:
    """`blocked(key)` → seconds to wait (or None); `record(key)` after each failure."""

    def __init__(self, namespace: str, config_key: str) -> None:
        self.namespace = namespace
        self.config_key = config_key

    def _limits(self):
        return parse_many(current_app.config[self.config_key])

    def blocked(self, key: str) -> int | None:
        try:
            strategy = limiter.limiter
            waits = [strategy.get_window_stats(item, self.namespace, key).reset_time - time.time()
                     for item in self._limits() if not strategy.test(item, self.namespace, key)]
        except Exception:  # noqa: BLE001 — a storage failure must not lock everyone out
            log.warning("failure throttle %s could not read the rate-limit storage", self.namespace, exc_info=True)
            return None
        return max(1, math.ceil(max(waits))) if waits else None

    def record(self, key: str) -> None:
        try:
            strategy = limiter.limiter
            for item in self._limits():
                strategy.hit(item, self.namespace, key)
        except Exception:  # noqa: BLE001
            log.warning("failure throttle %s could not write the rate-limit storage", self.namespace, exc_info=True)


login_failures_per_account = FailureThrottle("login-account", "LOGIN_ACCOUNT_FAILURE_LIMITS")
api_auth_failures_per_address = FailureThrottle("api-auth-address", "API_AUTH_FAILURE_LIMITS")


class _LoudFallbackWarning(logging.Handler):
    """Flask-Limiter says once, on a logger nobody listens to, that Redis is gone and it now
    counts in memory; repeat it on the app's log, loudly (limits are then per worker)."""

    def __init__(self, app_logger: logging.Logger) -> None:
        super().__init__(logging.WARNING)
        self.app_logger = app_logger

    def emit(self, record: logging.LogRecord) -> None:
        if "falling back" in record.getMessage():
            self.app_logger.warning("RATE LIMITS ARE NOW PER WORKER: the rate-limit storage (REDIS_URL) is unreachable, "
                                    "counting in this process's memory until it recovers")


def register(app) -> None:
    """Hook the fallback warning; warn at start-up when limits are per process by configuration."""
    limiter_logger = logging.getLogger("flask-limiter")
    if not any(isinstance(handler, _LoudFallbackWarning) for handler in limiter_logger.handlers):
        limiter_logger.addHandler(_LoudFallbackWarning(app.logger))
    if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory") and not app.testing:
        app.logger.warning("Rate limits are counted in memory, per worker process: set REDIS_URL so every worker "
                           "shares them (see docs/security.md)")
