"""Benchmark: the readiness report and the dashboard of a pilot with a million interactions.

    python bench/report.py                                   # SQLite, 1,000,000 interactions
    python bench/report.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python bench/report.py --rows 100000 --json out/bench-report.json

Builds the pilot in a throwaway SQLite file (and, with --postgres URL, in a scratch database it
creates next to URL's and drops afterwards), then measures each step in a fresh Python process so
peak RSS (ru_maxrss) belongs to that step alone:

- report: the readiness JSON through `GET /api/v1/pilots/<slug>/readiness` when that route exists,
  else `pilot_summary` (the report's measured sections). Targets: ≤ 5 s, ≤ 1 GiB peak RSS.
- dashboard: `GET /pilots/<slug>` through the Flask test client, logged in as the lead — the first
  view (it builds the daily rollup), then warm views (median of --repeat), then a view after 1,000
  new interactions land on the busiest recent day (that day is recomputed). Target: ≤ 300 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

REPORT_SECONDS, REPORT_RSS_MIB, DASHBOARD_MS = 5.0, 1024, 300
SLUG = "bench-pilot"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="interactions to build (default 1,000,000)")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL: a scratch database next to URL's")
    parser.add_argument("--repeat", type=int, default=7, help="warm dashboard views to time (default 7)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--measure", choices=["build", "report", "dashboard"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        steps = {"build": lambda: build(args.url, args.rows), "report": lambda: measure_report(args.url),
                 "dashboard": lambda: measure_dashboard(args.url, args.repeat)}
        print(json.dumps(steps[args.measure]()))
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="pilot-bench-") as scratch:
        results.append(run("sqlite", f"sqlite:///{scratch}/bench.db", args))
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            results.append(run("postgresql", url, args))
    print_table(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["targets_met"] for r in results) else 1


def run(name: str, url: str, args: argparse.Namespace) -> dict:
    """Build the data set, then measure the report and the dashboard in fresh processes."""
    started = time.perf_counter()
    built = child("build", url, args)
    build_seconds = time.perf_counter() - started
    print(f"[{name}] built {built['interactions']:,} interactions, {built['feedback']:,} ratings, "
          f"{built['flags']:,} flags in {build_seconds:.0f} s", file=sys.stderr)
    report = child("report", url, args)
    print(f"[{name}] report: {report['seconds']:.2f} s, peak RSS {report['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    dashboard = child("dashboard", url, args)
    print(f"[{name}] dashboard: first {dashboard['first_ms']:.0f} ms, warm median {dashboard['warm_median_ms']:.0f} ms",
          file=sys.stderr)
    met = (report["seconds"] <= REPORT_SECONDS and report["peak_rss_mib"] <= REPORT_RSS_MIB
           and dashboard["warm_median_ms"] <= DASHBOARD_MS)
    return {"database": name, **built, "build_seconds": build_seconds, "report": report, "dashboard": dashboard,
            "targets_met": met}


def child(what: str, url: str, args: argparse.Namespace) -> dict:
    """Run one step in a fresh interpreter (its memory high-water mark is its own)."""
    output = subprocess.run(
        [sys.executable, __file__, "--measure", what, "--url", url, "--repeat", str(args.repeat),
         "--rows", str(args.rows)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def make_app(url: str):
    from pilot import create_app
    from pilot.config import TestConfig

    config = TestConfig(url)
    config.TESTING = False  # measure what production does (no test-only shortcuts)
    return create_app(config)


def build(url: str, rows: int) -> dict:
    """Migrate the empty database and bulk-load the pilot (bench/dataset.py)."""
    import dataset
    from flask_migrate import upgrade

    from pilot.extensions import db

    app = make_app(url)
    with app.app_context():
        upgrade()
        if db.engine.dialect.name == "sqlite":
            db.session.execute(db.text("PRAGMA journal_mode=WAL"))
        built = dataset.build(db.session, rows, slug=SLUG)
        if db.engine.dialect.name == "postgresql":
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(db.text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        db.engine.dispose()
    return {"interactions": built.interactions, "feedback": built.feedback, "flags": built.flags}


def rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB. VmHWM where Linux has it: ru_maxrss
    would also count the parent's pages from before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_report(url: str) -> dict:
    """Time the readiness JSON (or pilot_summary until the readiness API exists); peak RSS."""
    import sqlalchemy as sa

    from pilot.extensions import db
    from pilot.models import Pilot

    app = make_app(url)
    with app.app_context():
        pilot = db.session.scalar(sa.select(Pilot).where(Pilot.slug == SLUG))
        readiness = f"/api/v1/pilots/{SLUG}/readiness"
        has_api = any(rule.rule == "/api/v1/pilots/<slug>/readiness" for rule in app.url_map.iter_rules())
        baseline = rss_mib()
        started_cpu = time.process_time()
        if has_api:
            client = app.test_client()
            key = _api_key(db.session, pilot)
            started = time.perf_counter()
            response = client.get(readiness, headers={"Authorization": f"Bearer {key}"})
            seconds = time.perf_counter() - started
            assert response.status_code == 200, response.status_code
            what = f"GET {readiness}"
        else:
            from pilot.analytics.summary import pilot_summary

            started = time.perf_counter()
            pilot_summary(db.session, pilot)
            seconds = time.perf_counter() - started
            what = "pilot_summary()"
    return {"what": what, "seconds": seconds, "cpu_seconds": time.process_time() - started_cpu,
            "peak_rss_mib": rss_mib(), "baseline_rss_mib": baseline, "load_average": os.getloadavg()}


def _api_key(session, pilot) -> str:
    """A fresh ingestion key for the pilot (the readiness API accepts the pilot's key)."""
    import sqlalchemy as sa

    from pilot.models import User
    from pilot.pilots.services import mint_api_key

    lead = session.scalar(sa.select(User).where(User.email == f"lead@{SLUG}.example"))
    _, secret = mint_api_key(session, pilot, lead, name="bench")
    session.commit()
    return secret


def measure_dashboard(url: str, repeat: int) -> dict:
    """First, warm and after-new-data views of the dashboard through the test client."""
    import sqlalchemy as sa

    from pilot.extensions import db
    from pilot.models import User

    app = make_app(url)
    with app.app_context():
        lead_id = db.session.scalar(sa.select(User.id).where(User.email == f"lead@{SLUG}.example"))
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = str(lead_id), True
    assert client.get("/").status_code == 200  # templates and the connection pool warmed, not timed
    page = f"/pilots/{SLUG}"

    cpu: dict[str, float] = {}

    def timed(path: str, label: str) -> float:
        """Wall-clock ms of one GET; this process's CPU ms go in `cpu` (the machine may be busy)."""
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        cpu[label] = (time.process_time() - started_cpu) * 1000
        assert response.status_code == 200, (path, response.status_code)
        return elapsed

    first = timed(page, "first")
    warm, warm_cpu = [], []
    for _ in range(repeat):
        warm.append(timed(page, "warm"))
        warm_cpu.append(cpu["warm"])
    added_day = add_late_interactions(app, 1_000)
    after_new = timed(page, "after_new")
    warm_after = [timed(page, "after_new_repeat") for _ in range(3)]  # within the look-back: recomputed again
    cost_page = timed(f"/pilots/{SLUG}/costs", "cost_page")
    cost_page_again = timed(f"/pilots/{SLUG}/costs?users=100000&trim_pct=30", "cost_page_again")  # scans cached
    one_day = timed(f"{page}?from={added_day}&to={added_day}", "one_day")
    return {
        "first_ms": first, "warm_median_ms": statistics.median(warm), "warm_max_ms": max(warm),
        "warm_median_cpu_ms": statistics.median(warm_cpu), "after_1000_new_ms": after_new,
        "after_new_repeat_median_ms": statistics.median(warm_after), "one_day_range_ms": one_day,
        "cost_page_ms": cost_page, "cost_page_again_ms": cost_page_again, "cpu_ms": cpu, "peak_rss_mib": rss_mib(), "load_average": os.getloadavg(),
    }


def add_late_interactions(app, count: int) -> str:
    """`count` interactions arriving now, dated on the busiest recent day (a full day to recompute)."""
    import random
    from datetime import timedelta

    import sqlalchemy as sa

    from pilot.extensions import db
    from pilot.models import Interaction, Pilot
    from pilot.models.base import utcnow

    rng = random.Random(5)
    with app.app_context():
        pilot = db.session.scalar(sa.select(Pilot).where(Pilot.slug == SLUG))
        last = db.session.scalar(sa.select(sa.func.max(Interaction.occurred_at)).where(Interaction.pilot_id == pilot.id))
        day = last.replace(hour=0, minute=0, second=0, microsecond=0)
        now = utcnow()
        db.session.add_all(Interaction(
            pilot_id=pilot.id, event_id=f"late-{uuid.uuid4().hex}", external_user_id=f"cust-{rng.randint(1, 48):04d}",
            occurred_at=day + timedelta(seconds=rng.uniform(0, 86_399)), received_at=now, model="claude-haiku-4-5",
            prompt_version="support-v3", input_chars=40, output_chars=90, input_hash=f"{rng.randrange(5000):064x}",
            input_tokens=1200, cached_input_tokens=0, output_tokens=220, latency_ms=rng.lognormvariate(6.5, 0.4),
            ttft_ms=200.0, status="ok", cost_usd=0.000575, cost_source="computed", meta={},
        ) for _ in range(count))
        db.session.commit()
        db.session.remove()
        return day.date().isoformat()


class scratch_postgres:
    """A database of its own next to URL's, dropped afterwards whatever happens."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.admin_url = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.name = f"pilot_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    def __enter__(self) -> str:
        import sqlalchemy as sa

        self.engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self.engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        return self.admin_url.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.engine.dispose()


def print_table(results: list[dict]) -> None:
    print(f"\n{'database':<11} {'rows':>9}  {'report':>8} {'peak RSS':>9}  {'dash first':>10} {'dash warm':>9} "
          f"{'(CPU)':>7} {'after +1k':>9} {'1-day range':>11} {'cost page':>9} {'again':>7}  load")
    for r in results:
        d = r["dashboard"]
        print(f"{r['database']:<11} {r['interactions']:>9,}  {r['report']['seconds']:>6.2f} s {r['report']['peak_rss_mib']:>5.0f} MiB"
              f"  {d['first_ms']:>7.0f} ms {d['warm_median_ms']:>6.0f} ms {d['warm_median_cpu_ms']:>4.0f} ms"
              f" {d['after_1000_new_ms']:>6.0f} ms {d['one_day_range_ms']:>8.0f} ms {d['cost_page_ms']:>6.0f} ms"
              f" {d['cost_page_again_ms']:>4.0f} ms"
              f"  {d['load_average'][0]:.1f}")
    print(f"targets: report ≤ {REPORT_SECONDS:g} s and ≤ {REPORT_RSS_MIB} MiB peak RSS ({results[0]['report']['what']}); "
          f"dashboard warm ≤ {DASHBOARD_MS} ms")


if __name__ == "__main__":
    sys.exit(main())
