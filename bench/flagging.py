"""How much flagging adds to batched ingestion (the issue's budget: at most 25 %).

Ingests N batches of 1,000 realistic items (the demo's generator: errors, slow answers, PII,
surprises, unenrolled users, an unknown model) through `pilot.ingest.services.ingest_items`,
committing each batch as the API does, into two identical pilots: one with flagging on, one
with it switched off (the rule engine replaced by a no-op). Batches alternate between the two
so both see the same database size and machine noise. Prints the totals and the overhead.

    python bench/flagging.py                          # throwaway SQLite file
    python bench/flagging.py --batches 5 --database-url postgresql://postgres@127.0.0.1:5432/pilot_dev_flagging

The PostgreSQL database given is emptied first: pass a throwaway one.
"""
from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

import pilot.flagging as flagging  # noqa: E402
from pilot import create_app  # noqa: E402
from pilot.auth.services import create_user  # noqa: E402
from pilot.config import TestConfig  # noqa: E402
from pilot.demo import TOPICS, generate_items  # noqa: E402
from pilot.extensions import db  # noqa: E402
from pilot.ingest.services import ingest_items  # noqa: E402
from pilot.models import Flag, Membership, Pilot, Scenario  # noqa: E402
from pilot.models.base import utcnow  # noqa: E402
from pilot.pilots.services import create_pilot  # noqa: E402

BATCH = 1000


def fresh_schema() -> None:
    db.drop_all()
    db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    upgrade()


def make_pilot(slug: str, lead, participants: list[str]):
    """A pilot set up like the demo: limits, allow-list, scenarios, 30 enrolled participants."""
    pilot = create_pilot(db.session, slug, slug, lead)
    pilot.daily_request_limit = 60
    pilot.allowed_domains = "acmebank.example,help.acmebank.example"
    for external_id in participants:
        db.session.add(Membership(pilot=pilot, external_id=external_id, role="participant", status="active",
                                  consent_at=utcnow()))
    for question, _ in (qa for qas in TOPICS.values() for qa in qas):
        db.session.add(Scenario(pilot_id=pilot.id, text=question))
    db.session.commit()
    return pilot


def items_for(batches: int, participants: list[str], seed: int) -> list[dict]:
    """At least batches × 1,000 demo-like items (about 330 a day), oldest first."""
    rng = random.Random(seed)
    days = max(1, -(-batches * BATCH // 330))
    start = datetime(2026, 5, 1)
    items = generate_items(rng, participants, start, days=days)
    while len(items) < batches * BATCH:
        start += timedelta(days=days)
        items += generate_items(rng, participants, start, days=days)
    return items[: batches * BATCH]


class FlaggingSwitch:
    """Turn the rule engine off (a no-op) or on, and count how often ingestion reached it.
    Ingestion flags in two steps (pilot.flagging.prepare_batch before its INSERT, store_batch
    after it): both are switched, and timed together."""

    def __init__(self) -> None:
        self.real = (flagging.prepare_batch, flagging.store_batch)
        self.calls = 0
        self.engine_seconds: list[float] = []  # time inside the rule engine, per batch

    def on(self) -> None:
        prepare, store = self.real

        def timed_prepare(*args, **kwargs):
            self.calls += 1
            started = time.perf_counter()
            try:
                return prepare(*args, **kwargs)
            finally:
                self.engine_seconds.append(time.perf_counter() - started)

        def timed_store(*args, **kwargs):
            started = time.perf_counter()
            try:
                return store(*args, **kwargs)
            finally:
                self.engine_seconds[-1] += time.perf_counter() - started

        flagging.prepare_batch, flagging.store_batch = timed_prepare, timed_store

    def off(self) -> None:
        flagging.prepare_batch = lambda *args, **kwargs: None
        flagging.store_batch = lambda *args, **kwargs: []

    def restore(self) -> None:
        flagging.prepare_batch, flagging.store_batch = self.real


def ingest_timed(pilot_id: int, batch: list[dict], suffix: str, switch: FlaggingSwitch,
                 flagging_on: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to ingest and commit one batch."""
    pilot = db.session.get(Pilot, pilot_id)
    items = [{**item, "id": f"{item['id']}-{suffix}"} for item in batch]
    switch.on() if flagging_on else switch.off()
    calls_before = switch.calls
    gc.collect()  # start every batch from a clean heap, so a full collection lands in neither side by chance
    started, cpu_started = time.perf_counter(), time.process_time()
    ingest_items(db.session, pilot, items, source="api")
    if flagging_on and switch.calls == calls_before:
        raise RuntimeError("ingestion did not reach the flagging hook")
    db.session.commit()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    db.session.expunge_all()  # like a fresh request: no identity map carried between batches
    return elapsed, cpu


def run(database_url: str, batches: int, seed: int) -> None:
    app = create_app(TestConfig(database_url))
    with app.app_context():
        fresh_schema()
        lead = create_user(db.session, "bench-lead@example.com", "bench-password-1", name="Bench")
        participants = [f"cust-{1000 + n}" for n in range(1, 31)]
        on_pilot, off_pilot = make_pilot("bench-on", lead, participants), make_pilot("bench-off", lead, participants)
        on_id, off_id = on_pilot.id, off_pilot.id
        items = items_for(batches, participants, seed)
        switch = FlaggingSwitch()
        warm_up = items_for(1, participants, seed + 1)
        for flagging_on, pilot_id in ((False, off_id), (True, on_id)):  # first-use costs, not timed
            ingest_timed(pilot_id, warm_up, "warm", switch, flagging_on)
        times_on, times_off = [], []
        switch.engine_seconds.clear()
        for number in range(batches):
            batch = items[number * BATCH:(number + 1) * BATCH]
            order = [(False, off_id, times_off), (True, on_id, times_on)]
            if number % 2:
                order.reverse()
            for flagging_on, pilot_id, times in order:
                times.append(ingest_timed(pilot_id, batch, "on" if flagging_on else "off", switch, flagging_on))
        switch.restore()
        flags_on = db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.pilot_id == on_id))
        flags_off = db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.pilot_id == off_id))
        dialect = db.engine.dialect.name
    wall_on, wall_off = [w for w, _ in times_on], [w for w, _ in times_off]
    cpu_on, cpu_off = [c for _, c in times_on], [c for _, c in times_off]
    total_on, total_off = sum(wall_on), sum(wall_off)
    overhead = (total_on - total_off) / total_off * 100
    # Each batch was ingested twice back to back (off, on); the median of those paired ratios
    # shrugs off the spikes a shared machine adds to single batches. CPU time of this process
    # ignores time spent waiting for a busy CPU (with SQLite all the work is in this process).
    paired = statistics.median(on / off for on, off in zip(wall_on, wall_off)) * 100 - 100
    cpu_overhead = (sum(cpu_on) - sum(cpu_off)) / sum(cpu_off) * 100
    print(f"database: {dialect}; {batches} batches of {BATCH:,} items")
    print(f"flagging off: {total_off:8.2f} s total, median {statistics.median(wall_off) * 1000:7.0f} ms per batch, "
          f"CPU {sum(cpu_off):.2f} s")
    print(f"flagging on:  {total_on:8.2f} s total, median {statistics.median(wall_on) * 1000:7.0f} ms per batch, "
          f"CPU {sum(cpu_on):.2f} s")
    engine_ms = statistics.median(switch.engine_seconds) * 1000 if switch.engine_seconds else float("nan")
    print(f"rule engine alone: median {engine_ms:.0f} ms per batch = "
          f"{engine_ms / (statistics.median(wall_off) * 1000) * 100:.1f} % of the median batch without it")
    print(f"overhead: {overhead:+.1f} % of total time, {paired:+.1f} % median per batch, {cpu_overhead:+.1f} % CPU "
          f"(budget: +25 %); {flags_on:,} flags with flagging on, {flags_off:,} off")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL of a throwaway database (default: SQLite file)")
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    with tempfile.TemporaryDirectory() as tmp:
        run(url or f"sqlite:///{Path(tmp) / 'bench.db'}", args.batches, args.seed)


if __name__ == "__main__":
    main()
