"""Per-process caches: one small, thread-safe, bounded LRU (`ProcessCache`), used by every
module-level cache whose value depends on the database.

Key convention: a value computed from the database is keyed by `database_key(session, *parts)`,
i.e. (database URL, *parts). Two apps (or a test suite and a benchmark) in one process then never
read each other's pilots, whose ids coincide. A value that depends only on the dialect or on
plain text (a compiled statement) leaves the URL out and names what it does depend on.

Users: pilot.database (compiled INSERT … ON CONFLICT statements, per dialect), analytics.costs
(the what-if measurements), flagging.context (the median cost), flagging.scenarios (the fitted
scenario matcher) and review.grouping (topics and clusters). Each sets its own bound.

Kept as they are, because their value does not depend on the database:
- `functools.lru_cache` in flagging.text_checks (a phrase tuple's anchors and compiled regex) and
  auth.services (the dummy password hash of a hash method): pure functions of their arguments;
- worker.queue's Redis clients per Redis URL: open connections, not cached answers;
- access.py's per-request `g._can_cache` and ScenarioMatcher's memo: they live and die with a
  request or a matcher, not with the process.

`clear_process_caches()` empties every ProcessCache (the test fixtures call it after each test).
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")
_MISSING = object()
_caches: "weakref.WeakSet[ProcessCache]" = weakref.WeakSet()


class ProcessCache:
    """A least-recently-used map of at most `max_entries` entries, safe to share between threads.

    The lock guards the map only: `get_or_compute` computes outside it, so two threads missing
    the same key at once may both compute (the last one stored wins), and a slow computation
    never blocks readers of other keys."""

    def __init__(self, name: str, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: must be at least 1, not {max_entries}")
        self.name = name
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value stored under `key` (now the most recently used), else `default`."""
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store `value`, evicting the least recently used entries beyond the bound."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The stored value, or `compute()` stored and returned."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __repr__(self) -> str:
        return f"ProcessCache({self.name!r}, {len(self)}/{self.max_entries})"


def database_key(session: Any, *parts: Hashable) -> tuple:
    """(the session's database URL, *parts): the key of a value computed from that database.
    The URL is rendered with its password hidden (the password does not change the data)."""
    return (str(session.get_bind().url), *parts)


def clear_process_caches() -> None:
    """Empty every ProcessCache of the process (tests; never needed for correctness in the app)."""
    for cache in list(_caches):
        cache.clear()
