"""Profile one batch of the issue-13 workload (a script, not a test).

    .venv/bin/python bench/profile_batch.py --stored 20000 [--database-url postgresql+psycopg://…]
        [--repeat 7] [--http]

A pilot with 10 enrolled users over a daily request limit of 200, 12 anticipated scenarios and
flagging on is filled with `--stored` interactions through `ingest_items` itself (1,000 per
batch, LLM-sized texts from ~400 distinct questions, 4 models, ~5 % errors, metadata), then
`--repeat` more batches are timed without the profiler (median CPU and wall time per batch:
CPU is the figure to trust on a shared machine), and one more is profiled with cProfile.
With `--http` the timed and profiled batches are JSON bodies POSTed to /api/v1/interactions
through the Flask test client with an API key (body read, JSON parse, key check, rate limit,
ingest, commit, answer), instead of calls of `ingest_items`.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from bench.harness import WORDS, machine_load  # noqa: E402
from pilot import create_app  # noqa: E402
from pilot.auth.services import create_user  # noqa: E402
from pilot.config import TestConfig  # noqa: E402
from pilot.extensions import db  # noqa: E402
from pilot.flagging.services import replace_scenarios  # noqa: E402
from pilot.ingest.services import ingest_items  # noqa: E402
from pilot.models import Membership  # noqa: E402
from pilot.models.base import utcnow  # noqa: E402
from pilot.pilots.services import create_pilot, mint_api_key  # noqa: E402

USERS = 10
DAILY_LIMIT = 200
MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "gpt-5.2", "acme-finetune-v0")
SCENARIOS = ("freeze a lost card", "dispute a card payment", "international transfer fees", "reset a password",
             "change my address", "monthly statement download", "savings interest rate", "loan repayment",
             "overdraft limit", "travel notice abroad", "merchant refund pending", "tax document export")


def issue_workload(count: int, prefix: str, start, seed: int = 13) -> list[dict]:
    """The issue's items: 10 users, questions of 200–1,500 characters from ~400 distinct ones,
    answers of 200–3,000, 4 models, ~5 % errors, metadata on every item, 6 hours of traffic."""
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        size = rng.randint(low, high)
        return " ".join(rng.choice(WORDS) for _ in range(size // 6))[:size]

    questions = [text(200, 1500) for _ in range(400)]
    answers = [text(200, 3000) for _ in range(300)]
    items = []
    for index in range(count):
        failed = rng.random() < 0.05
        items.append({
            "id": f"{prefix}-{index:07d}", "user": f"user-{index % USERS:02d}", "session": f"s-{index // 7}",
            "timestamp": (start + timedelta(seconds=index * 6 * 3600 / max(count, 1))).isoformat() + "Z",
            "model": MODELS[index % 4], "prompt_version": "v1", "input": rng.choice(questions),
            "output": "" if failed else rng.choice(answers), "input_tokens": rng.randint(60, 400),
            "output_tokens": 0 if failed else rng.randint(60, 800), "latency_ms": rng.uniform(300, 9000),
            "status": "error" if failed else "ok", "error": "upstream 500" if failed else None,
            "metadata": {"feature": "chat", "region": rng.choice(("eu", "us")), "ab": index % 2},
        })
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative or tottime")
    parser.add_argument("--repeat", type=int, default=0, help="batches to time before the profiled one")
    parser.add_argument("--http", action="store_true", help="POST the batches through the test client")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/profile.db"
    app = create_app(TestConfig(url))
    context = app.app_context()
    context.push()
    upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
    session = db.session
    lead = create_user(session, f"lead-{time.time_ns()}@bench.example", "bench-password", name="Lead")
    pilot = create_pilot(session, f"profile-{time.time_ns()}", "Profile pilot", lead)
    pilot.daily_request_limit = DAILY_LIMIT
    for number in range(USERS):
        session.add(Membership(pilot=pilot, external_id=f"user-{number:02d}", role="participant",
                               status="active", consent_at=utcnow()))
    replace_scenarios(session, pilot, "\n".join(SCENARIOS), None)
    session.commit()
    _, secret = mint_api_key(session, pilot, None, name="profile")
    session.commit()
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=1)
    items = issue_workload(args.stored + 1000 * (args.repeat + 1), "p", start)
    began = time.perf_counter()
    for first in range(0, args.stored, 1000):
        ingest_items(session, pilot, items[first:first + 1000])
        session.commit()
    print(f"filled {args.stored:,} in {time.perf_counter() - began:.1f} s")
    if args.http:  # each request in its own app context and session, as in a server
        session.remove()
        context.pop()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    bodies = {first: json.dumps({"interactions": items[first:first + 1000]}).encode()
              for first in range(args.stored, len(items), 1000)} if args.http else {}

    def one_batch(first: int) -> int:
        if args.http:  # the body is encoded before the clock starts, as a client would
            answer = client.post("/api/v1/interactions", data=bodies[first], headers=headers)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
            return answer.get_json()["accepted"]
        accepted = ingest_items(session, pilot, items[first:first + 1000]).accepted
        session.commit()
        return accepted

    what = "POST of 1,000" if args.http else "batch of 1,000"
    cpu, wall = [], []
    for number in range(args.repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        one_batch(args.stored + 1000 * number)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    if args.repeat:
        print(f"{what} at {args.stored:,}+ stored, median of {args.repeat}: "
              f"CPU {statistics.median(cpu) * 1000:.0f} ms, wall {statistics.median(wall) * 1000:.0f} ms "
              f"(CPU {', '.join(f'{c * 1000:.0f}' for c in cpu)}); load {machine_load()}")
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    accepted = one_batch(args.stored + 1000 * args.repeat)
    profiler.disable()
    print(f"{what} at {args.stored:,} stored (profiled): {time.perf_counter() - began:.3f} s "
          f"({accepted} accepted); load {machine_load()}")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    if not args.http:
        context.pop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
