"""Shared machinery of the benchmark and the durability test: throwaway databases, the Pilot
CLI, gunicorn processes, LLM-sized records, batch senders and end-to-end counting.

Everything listens on 127.0.0.1 only. Nothing here imports the Pilot app: it is driven from
outside, through its CLI and HTTP, the way a team would run it.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_PASSWORD = "bench-password-1"


# ------------------------------------------------------------------ databases


class Database:
    """A throwaway database for one Pilot server: created empty, counted, dropped."""

    kind = "?"
    url = ""

    def create(self) -> None: ...

    def drop(self) -> None: ...

    def count(self, table: str = "interaction") -> int:
        raise NotImplementedError

    def scalar(self, sql: str):
        raise NotImplementedError

    def counter_from_now(self):
        """A count of the interactions stored from now on that reads only those rows (an index
        range above today's highest id): counting a million rows on every poll would load the
        database being measured."""
        last_id = self.scalar("SELECT coalesce(max(id), 0) FROM interaction")
        return lambda: self.scalar(f"SELECT count(*) FROM interaction WHERE id > {int(last_id)}")


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def drop(self) -> None:
        self.create()

    def count(self, table: str = "interaction") -> int:
        return self.scalar(f"SELECT count(*) FROM {table}")

    def scalar(self, sql: str):
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(sql).fetchone()[0]
        finally:
            connection.close()


class PostgresDatabase(Database):
    kind = "postgres"

    def __init__(self, name: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.name = name
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        self.url = f"{base}/{name}"
        self._connection = None

    def _admin(self, sql: str) -> None:
        with self._psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(sql)

    def create(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def exists(self) -> bool:
        with self._psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)).fetchone() is not None

    def count(self, table: str = "interaction") -> int:
        return self.scalar(f"SELECT count(*) FROM {table}")

    def scalar(self, sql: str):
        if self._connection is None:
            self._connection = self._psycopg.connect(self.url, autocommit=True)
        return self._connection.execute(sql).fetchone()[0]


# ------------------------------------------------------------------ the Pilot CLI and servers


def pilot_environment(database: Database, workdir: Path) -> dict[str, str]:
    """The environment a benchmark Pilot runs in: its own database, secret and no rate limit."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database.url,
        "PILOT_INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": "bench-secret-key",
        "PILOT_API_RATE_LIMIT": "100000000 per minute",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask --app wsgi …` from the repository root; return its standard output."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def set_up_pilot(env: dict[str, str], slug: str = "bench") -> str:
    """Migrate the empty database, create a lead and a pilot, and return a fresh API key."""
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "pilot", "create-user", f"lead@{slug}.example.com", "--password", BENCH_PASSWORD)
    flask_cli(env, "pilot", "create", slug, "--name", f"{slug.title()} pilot", "--lead", f"lead@{slug}.example.com")
    return flask_cli(env, "pilot", "api-key", slug).strip().splitlines()[-1].strip()


class Server:
    """A server process in its own process group, so a SIGKILL takes its workers too."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], cwd: Path, log: Path,
                 ready_path: str = "/healthz") -> None:
        self.argv, self.port, self.env, self.cwd, self.log, self.ready_path = argv, port, env, cwd, log, ready_path
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 90) -> "Server":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[:4]} exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.argv[:4]} not ready on port {self.port} after {timeout} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the whole process group: master and workers die mid-request, no cleanup."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def gunicorn(app: str, port: int, env: dict[str, str], log: Path, cwd: Path = ROOT, workers: int = 2,
             extra: Iterable[str] = ()) -> Server:
    argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", *extra, app]
    return Server(argv, port, env, cwd, log)


# ------------------------------------------------------------------ records


WORDS = ("the account card payment refund freeze limit transfer statement balance fee travel notice dispute "
         "merchant charge pending cleared overdraft savings interest rate loan branch app login password reset "
         "verify identity address phone email notification alert budget category monthly weekly receipt invoice "
         "tax document export support agent escalate policy terms holiday abroad currency exchange wire").split()


def _paragraph(rng: random.Random, characters: int) -> str:
    words: list[str] = []
    length = 0
    while length < characters:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:characters].capitalize() + "."


def make_records(count: int, prefix: str, seed: int = 7, users: list[str] | None = None) -> list[dict]:
    """LLM-sized interactions (~600-character question, ~1,200-character answer, tokens,
    latency, user, session, metadata), from a pool of texts so memory stays modest. `users`:
    the external ids to take turns (default 30 unenrolled ones)."""
    users = users or [f"user-{n:02d}" for n in range(30)]
    rng = random.Random(seed)
    inputs = [_paragraph(rng, rng.randint(400, 800)) for _ in range(200)]
    outputs = [_paragraph(rng, rng.randint(800, 1600)) for _ in range(200)]
    models = ("claude-sonnet-4-6", "claude-haiku-4-5", "gpt-5.2")
    start = time.time() - 3600
    records = []
    for index in range(count):
        text_in, text_out = inputs[index % 200], outputs[(index * 7) % 200]
        records.append({
            "id": f"{prefix}-{index:07d}",
            "user": users[index % len(users)],
            "session": f"session-{index // 5}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + index * 0.01)) + "Z",
            "model": models[index % 3],
            "prompt_version": "v3",
            "input": text_in,
            "output": text_out,
            "input_tokens": len(text_in) // 4 + 150,
            "cached_input_tokens": 100 if index % 4 == 0 else 0,
            "output_tokens": len(text_out) // 4,
            "latency_ms": 600 + (index * 37) % 2400,
            "ttft_ms": 180 + (index * 11) % 300,
            "status": "error" if index % 50 == 0 else "ok",
            "metadata": {"feature": "support-chat", "region": "eu"},
        })
    return records


def json_batches(records: list[dict], batch_size: int) -> list[bytes]:
    """The request bodies, encoded before the clock starts so the sender costs little CPU."""
    return [json.dumps({"interactions": records[start:start + batch_size]}).encode()
            for start in range(0, len(records), batch_size)]


# ------------------------------------------------------------------ sending and counting


@dataclass
class SendResult:
    """What the senders saw: one entry per body, in order; statuses of every attempt."""

    statuses: Counter = field(default_factory=Counter)
    acknowledged: list[bool] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    retries: int = 0


def post_bodies(url: str, path: str, bodies: list[bytes], headers: dict[str, str], concurrency: int = 4,
                retry: bool = True, stop: threading.Event | None = None, timeout: float = 60) -> SendResult:
    """POST every body from `concurrency` threads over keep-alive connections.

    With `retry`, a 429/503 (after Retry-After) or a 5xx/connection error is sent again, as a
    well-behaved client would; without it each body is tried once. `acknowledged[i]` is True
    when body i got a 200.
    """
    host, port = url.removeprefix("http://").split(":")
    result = SendResult(acknowledged=[False] * len(bodies))
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    all_headers = {"Content-Type": "application/json", **headers}

    def worker() -> None:
        connection: http.client.HTTPConnection | None = None
        while True:
            with lock:
                index = next(next_index, None)
            if index is None or (stop is not None and stop.is_set()):
                break
            attempts = 0
            while stop is None or not stop.is_set():
                attempts += 1
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
                    connection.request("POST", path, body=bodies[index], headers=all_headers)
                    answer = connection.getresponse()
                    answer.read()
                    status = answer.status
                    wait = _seconds(answer.getheader("Retry-After"), 0.2)
                    if answer.will_close:
                        connection.close()
                        connection = None
                except (OSError, http.client.HTTPException) as error:
                    if connection is not None:
                        connection.close()
                        connection = None
                    with lock:
                        result.errors[type(error).__name__] += 1
                    status, wait = None, 0.2
                with lock:
                    if status is not None:
                        result.statuses[status] += 1
                    if status == 200:
                        result.acknowledged[index] = True
                if status == 200 or not retry or (status is not None and 400 <= status < 500 and status != 429):
                    break
                with lock:
                    result.retries += 1
                time.sleep(min(wait, 5.0) * (1 if attempts < 50 else 2))
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def wait_for_count(count: Callable[[], int], target: int, *, started: float, timeout: float,
                   stall_timeout: float = 30.0, interval: float = 0.2,
                   sending_done: Callable[[], bool] = lambda: True) -> tuple[int, float | None, float]:
    """Poll the database until `target` rows are stored.

    Returns (rows stored, seconds from `started` until all were stored — None when they never
    were: the clock ran out, or nothing new arrived for `stall_timeout` s after the sending
    finished —, seconds until the last new row was seen).
    """
    deadline = time.monotonic() + timeout
    last_value, last_change = 0, started
    while True:
        asked = time.monotonic()
        try:
            value = count()
        except Exception:  # a locked SQLite file, a PostgreSQL hiccup: ask again
            value = last_value
        now = time.monotonic()
        # count(*) is a full scan on PostgreSQL (~45 ms at 100,000 LLM rows): poll so that the
        # counting never takes more than a tenth of one core from the servers being measured.
        pause = max(interval, 9 * (now - asked))
        if value != last_value:
            last_value, last_change = value, now
        if value >= target:
            return value, now - started, now - started
        if now > deadline or (sending_done() and now - last_change > stall_timeout):
            return value, None, last_change - started
        time.sleep(pause)


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:
        return default


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) / {five:.2f} (5 min)"
