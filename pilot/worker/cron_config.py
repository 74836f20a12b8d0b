"""RQ's cron configuration (`rq cron pilot.worker.cron_config`): what runs on a schedule.

The queue is PILOT_WORKER_QUEUE (default "pilot"), the one the web app and the worker use.
"""
from __future__ import annotations

import os
from typing import Callable

from rq import cron

from pilot.worker.jobs import evaluate_all_alerts, refresh_live_verdicts

ALERTS_EVERY_S = 60
LIVE_VERDICTS_EVERY_S = 300  # the overview's verdict is at most this old (plus its build time)


def register_all(register: Callable = cron.register, queue_name: str | None = None) -> None:
    """Register the scheduled jobs with `register` (rq.cron.register, or a CronScheduler's)."""
    register(evaluate_all_alerts, queue_name or os.environ.get("PILOT_WORKER_QUEUE", "pilot"),
             interval=ALERTS_EVERY_S, name="pilot-alerts")
    register(refresh_live_verdicts, queue_name or os.environ.get("PILOT_WORKER_QUEUE", "pilot"),
             interval=LIVE_VERDICTS_EVERY_S, name="pilot-live-verdicts")


register_all()
