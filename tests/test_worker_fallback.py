"""Without Redis, jobs run in-process and the log says so once (issue 10: "said once in the log"),
not once per job: a busy pilot would otherwise bury everything else in the log."""
from __future__ import annotations

import logging

import pytest

from pilot.worker import queue as worker_queue

FALLBACK = "jobs run in-process, in the request that asks for them"
ran: list[int] = []


def _job(number: int) -> None:
    ran.append(number)


@pytest.fixture()
def fresh_process(monkeypatch):
    """As in a process that has not said it yet."""
    monkeypatch.setattr(worker_queue, "_fallback_said", False)
    ran.clear()


def _fallback_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pilot.worker.queue" and FALLBACK in r.getMessage()]


def test_the_in_process_fallback_is_logged_exactly_once(app, fresh_process, caplog):
    assert not app.config.get("REDIS_URL")
    caplog.set_level(logging.WARNING, logger="pilot.worker.queue")
    with app.app_context():
        assert [worker_queue.enqueue(_job, n) for n in range(3)] == ["ran"] * 3
    assert ran == [0, 1, 2]
    [message] = _fallback_messages(caplog)
    assert message == ("No background worker queue (REDIS_URL not set): jobs run in-process, in the request "
                       "that asks for them.")
    assert [r.levelno for r in caplog.records if FALLBACK in r.getMessage()] == [logging.WARNING]


def test_a_later_reason_is_not_logged_again(app, fresh_process, caplog):
    from tests.worker_helpers import free_port

    caplog.set_level(logging.WARNING, logger="pilot.worker.queue")
    old = app.config.get("REDIS_URL")
    with app.app_context():
        worker_queue.enqueue(_job, 1)
        app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # configured, but nothing listens
        worker_queue._down_until.clear()
        try:
            worker_queue.enqueue(_job, 2)
        finally:
            app.config["REDIS_URL"] = old
    assert ran == [1, 2]
    assert len(_fallback_messages(caplog)) == 1
