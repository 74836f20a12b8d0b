"""gunicorn settings for Pilot: `gunicorn -c gunicorn.conf.py wsgi:app`.

Prometheus multiprocess mode: each worker writes its counters to files under
PROMETHEUS_MULTIPROC_DIR and /metrics sums them, so a scrape sees the whole server, not one
worker. The directory must be empty when gunicorn starts and is set before any worker imports
prometheus_client.
"""
import os
import shutil
import tempfile

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
bind = os.environ.get("PILOT_BIND", "127.0.0.1:8000")

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pilot-metrics-")


def on_starting(server):
    """Start from an empty directory: files of a previous run would be counted again."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    """A dead worker's live gauges stop counting (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
