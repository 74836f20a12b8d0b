"""Ingestion benchmark (a script, not a test): how many LLM interactions per second Pilot
stores, end to end, next to a bare Flask + sqlite3 endpoint and to Arize Phoenix.

    .venv/bin/python bench/ingest.py --db both --count 100000

A record counts when it is stored and queryable: the script polls the database's row count
until every record is there (or nothing new arrives for 30 s), so a server that answers 200
before it stores is not flattered. Every server runs on 127.0.0.1 with gunicorn, 2 workers
(Phoenix with its own uvicorn server and its default SQLite).

Rows of the table:
  bare     the same JSON batches to a bare Flask + sqlite3 executemany endpoint (bench/bare_app.py)
  json     the same batches to Pilot's POST /api/v1/interactions (4 concurrent senders)
  client   the same records through pilot.client.PilotClient (one background thread)
  otlp     the same records as OTLP spans through the stock OTLPSpanExporter + BatchSpanProcessor
  phoenix  the same OTLP load to Arize Phoenix (a throwaway venv, never the project's)

Targets (the issue): OTLP ≥ 20× Phoenix end to end with zero spans lost; batched JSON ≥ 40 %
of the bare endpoint's rate in the same run.

With `--stored 0,100000,1000000` it also sends the same batches into pilots that already hold
that many interactions (bench/dataset.py: 48 members, a daily limit of 900, 30 days of history
with feedback and flags, bulk-loaded by SQL, never through the API). The records then come from
10 enrolled users, so each of them goes far over the daily limit and those interactions are
flagged. A built pilot is kept in --stored-cache (SQLite files) or as a template database
(PostgreSQL, pilot_bench_stored_<N>) and copied for each run, so a million rows are built once.
Targets: JSON ≥ 40 % of bare at every size, the largest size within 20 % of the empty pilot.

    .venv/bin/python bench/ingest.py --db both --stored 0,100000,1000000 --skip-client --skip-phoenix
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    Database,
    PostgresDatabase,
    Server,
    SqliteDatabase,
    flask_cli,
    gunicorn,
    json_batches,
    machine_load,
    make_records,
    pilot_environment,
    post_bodies,
    set_up_pilot,
    wait_for_count,
)

BENCH_DIR = Path(__file__).resolve().parent
TARGET_OTLP_VS_PHOENIX = 20.0
TARGET_JSON_VS_BARE = 0.40
TARGET_LARGEST_VS_EMPTY = 0.80
HEAVY_USERS = [f"cust-{n:04d}" for n in range(1, 11)]  # enrolled in bench/dataset.py's pilot
STORED_SLUG = "bench-pilot"  # bench/report.py's build


@dataclass
class Row:
    name: str
    database: str
    sent: int
    stored: int
    seconds: float | None  # until every record was stored; None: some never were
    last_seconds: float  # until the last record that did arrive was stored
    note: str = ""
    stored_before: int | None = None  # the --stored size the pilot held before the run
    load: str = ""  # the machine's load average when the measurement ended

    @property
    def rate(self) -> float | None:
        """Records stored per second, end to end; when some were lost, the stored ones over the
        time until the last of them was stored (how Phoenix's 160/s was measured)."""
        elapsed = self.seconds or self.last_seconds
        return self.stored / elapsed if self.stored and elapsed else None

    @property
    def lost(self) -> int:
        return self.sent - self.stored


@dataclass
class Options:
    count: int
    batch: int
    senders: int
    port_base: int
    workdir: Path
    store_timeout: float
    sqlite_journal: str  # "wal" (Pilot's own setting, pilot/database.py) or "delete" (SQLite's default)
    stored_cache: Path = Path("/tmp/pilot-bench-stored")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------ the measurements


def measure_json(name: str, database_kind: str, url: str, path: str, headers: dict[str, str], bodies: list[bytes],
                 count: int, stored_now: Callable[[], int], options: Options) -> Row:
    """POST pre-encoded batches from `senders` threads; clock stops when all rows are stored."""
    baseline = stored_now()
    done = threading.Event()
    started = time.monotonic()
    result_box: dict = {}

    def send() -> None:
        result_box["result"] = post_bodies(url, path, bodies, headers, concurrency=options.senders)
        done.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    stored, seconds, last_seconds = wait_for_count(lambda: stored_now() - baseline, count, started=started,
                                                   timeout=options.store_timeout, sending_done=done.is_set)
    sender.join()
    result = result_box["result"]
    note = ", ".join(f"HTTP {status}×{n}" for status, n in sorted(result.statuses.items()) if status != 200)
    if result.errors:
        note = ", ".join(filter(None, [note, *(f"{name}×{n}" for name, n in result.errors.items())]))
    return Row(name, database_kind, count, stored, seconds, last_seconds, note, load=machine_load())


def measure_client(url: str, key: str, records: list[dict], database: Database, options: Options) -> Row:
    """The same records through pilot.client (what a team's code would use)."""
    from pilot.client import PilotClient

    baseline = database.count()
    client = PilotClient(url, key, batch_size=options.batch, max_queue=len(records) + 1, flush_interval=0.05,
                         timeout=60)
    done = threading.Event()
    started = time.monotonic()

    def produce() -> None:
        for record in records:
            client.log_interaction(**record)
        client.flush(timeout=options.store_timeout)
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    stored, seconds, last_seconds = wait_for_count(lambda: database.count() - baseline, len(records),
                                                   started=started, timeout=options.store_timeout,
                                                   sending_done=done.is_set)
    done.wait(timeout=60)
    stats = client.stats
    client.close(timeout=1)
    note = f"client retries {stats.retries}" if stats.retries else ""
    if stats.lost:
        note += f" client lost {stats.lost}"
    return Row("Pilot via pilot.client (1 thread)", database.kind, len(records), stored, seconds, last_seconds,
               note.strip())


def measure_otlp(name: str, database_kind: str, endpoint: str, headers: dict[str, str], records: list[dict],
                 stored_now: Callable[[], int], options: Options, timeout: float) -> Row:
    """The records as LLM spans through the stock OTLPSpanExporter + BatchSpanProcessor.

    The processor's queue holds the whole load (max_queue_size = count) so that no span is
    dropped in this process: every loss is the server's (or the exporter giving up on it).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import Status, StatusCode

    class CountingExporter(SpanExporter):
        """The stock exporter, counting the spans of exports that failed (after its retries)."""

        def __init__(self, inner: SpanExporter) -> None:
            self.inner, self.failed, self.exported = inner, 0, 0

        def export(self, spans):
            outcome = self.inner.export(spans)
            if outcome == SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.failed += len(spans)
            return outcome

        def shutdown(self):
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return self.inner.force_flush(timeout_millis)

    baseline = stored_now()
    exporter = CountingExporter(OTLPSpanExporter(endpoint=endpoint, headers=headers))
    provider = TracerProvider(resource=Resource.create({"service.name": "pilot-bench"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=len(records) + 1))
    tracer = provider.get_tracer("pilot.bench")
    done = threading.Event()
    started = time.monotonic()

    def produce() -> None:
        for record in records:
            begin = time.time_ns()
            span = tracer.start_span(f"chat {record['model']}", start_time=begin, attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": record["model"],
                "gen_ai.usage.input_tokens": record["input_tokens"],
                "gen_ai.usage.output_tokens": record["output_tokens"],
                "openinference.span.kind": "LLM",
                "llm.model_name": record["model"],
                "input.value": record["input"],
                "output.value": record["output"],
                "user.id": record["user"],
                "session.id": record["session"],
            })
            if record["status"] == "error":
                span.set_status(Status(StatusCode.ERROR, "model error"))
            span.end(end_time=begin + int(record["latency_ms"] * 1_000_000))
        provider.force_flush(timeout_millis=int(timeout * 1000))
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    stored, seconds, last_seconds = wait_for_count(lambda: stored_now() - baseline, len(records), started=started,
                                                   timeout=timeout, sending_done=done.is_set)
    done.wait(timeout=60)
    provider.shutdown()
    note = f"exporter gave up on {exporter.failed} spans" if exporter.failed else ""
    return Row(name, database_kind, len(records), stored, seconds, last_seconds, note, load=machine_load())


# ------------------------------------------------------------------ the servers


def run_bare(bodies: list[bytes], count: int, options: Options) -> Row:
    database = SqliteDatabase(options.workdir / "bare" / "bare.db")
    database.create()
    env = dict(os.environ, BARE_DB=str(database.path), BARE_JOURNAL=options.sqlite_journal)
    server = gunicorn("bare_app:app", options.port_base + 2, env, options.workdir / "bare.log", cwd=BENCH_DIR)
    with server:
        post_bodies(server.url, "/ingest", [json.dumps({"interactions": [{"id": "warm-up"}]}).encode()], {})
        row = measure_json("bare Flask + sqlite3 executemany", "sqlite", server.url, "/ingest", {}, bodies, count,
                           database.count, options)
    database.drop()
    return row


@contextlib.contextmanager
def warm_pilot_server(kind: str, env: dict[str, str], auth: dict[str, str], options: Options, name: str):
    """Pilot under gunicorn, its workers warmed by a few tiny batches before any clock starts."""
    with gunicorn("wsgi:app", options.port_base + (0 if kind == "sqlite" else 1), env,
                  options.workdir / f"{name}.log") as server:
        warm = json.dumps({"interactions": [{"id": f"warm-up-{i}", "output": "warm"} for i in range(4)]}).encode()
        post_bodies(server.url, "/api/v1/interactions", [warm] * 4, auth, concurrency=2)
        yield server


def run_pilot(kind: str, bodies: list[bytes], count: int, client_records: list[dict], otlp_records: list[dict],
              options: Options) -> list[Row]:
    if kind == "sqlite":
        database: Database = SqliteDatabase(options.workdir / "pilot-sqlite" / "pilot.db")
    else:
        database = PostgresDatabase(f"pilot_bench_{os.getpid()}")
    database.create()
    rows: list[Row] = []
    try:
        env = pilot_environment(database, options.workdir / f"pilot-{kind}")
        log(f"Pilot on {kind}: migrating and creating the pilot and its key")
        key = set_up_pilot(env)
        auth = {"Authorization": f"Bearer {key}"}
        with warm_pilot_server(kind, env, auth, options, f"pilot-{kind}") as server:
            log(f"Pilot on {kind}: batched JSON")
            rows.append(measure_json("Pilot POST /api/v1/interactions", kind, server.url, "/api/v1/interactions", auth,
                                     bodies, count, database.count, options))
            log_row(rows[-1])
            if client_records:
                log(f"Pilot on {kind}: pilot.client")
                rows.append(measure_client(server.url, key, client_records, database, options))
                log_row(rows[-1])
            log(f"Pilot on {kind}: OTLP")
            rows.append(measure_otlp("Pilot POST /v1/traces (OTLP)", kind, server.url + "/v1/traces", auth,
                                     otlp_records, database.count, options, options.store_timeout))
            log_row(rows[-1])
    finally:
        database.drop()
    return rows


def stored_database(kind: str, size: int, options: Options) -> Database:
    """A fresh copy of a pilot holding `size` interactions, built once by bench/report.py's
    build (bulk SQL) into the cache and copied from there."""
    if kind == "sqlite":
        cached = options.stored_cache / f"sqlite-{size}.db"
        if not cached.exists():
            options.stored_cache.mkdir(parents=True, exist_ok=True)
            _build_stored(f"sqlite:///{cached}.part", size)
            Path(f"{cached}.part").rename(cached)
        database: Database = SqliteDatabase(options.workdir / f"stored-{size}" / "pilot.db")
        database.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, database.path)
        return database
    template = PostgresDatabase(f"pilot_bench_stored_{size}")
    if not template.exists():
        template.create()
        _build_stored(template.url.replace("postgresql://", "postgresql+psycopg://", 1), size)
    database = PostgresDatabase(f"pilot_bench_{os.getpid()}_{size}")
    database._admin(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
    database._admin(f'CREATE DATABASE "{database.name}" TEMPLATE "{template.name}"')
    return database


def _build_stored(url: str, size: int) -> None:
    log(f"building a pilot with {size:,} stored interactions (once; cached)")
    subprocess.run([sys.executable, str(BENCH_DIR / "report.py"), "--measure", "build", "--url", url,
                    "--rows", str(size)], check=True, capture_output=True, timeout=3600)


def run_stored(kind: str, size: int, bodies: list[bytes], count: int, options: Options) -> Row:
    """The batched JSON row, into a pilot that already holds `size` interactions."""
    database = stored_database(kind, size, options)
    try:
        env = pilot_environment(database, options.workdir / f"stored-{kind}-{size}")
        flask_cli(env, "db", "upgrade")  # a cache built by an older checkout gets this one's indexes
        key = flask_cli(env, "pilot", "api-key", STORED_SLUG).strip().splitlines()[-1].strip()
        auth = {"Authorization": f"Bearer {key}"}
        with warm_pilot_server(kind, env, auth, options, f"stored-{kind}-{size}") as server:
            log(f"Pilot on {kind} holding {size:,}: batched JSON")
            row = measure_json(f"Pilot JSON, {size:,} stored", kind, server.url, "/api/v1/interactions", auth,
                               bodies, count, database.counter_from_now(), options)
        row.stored_before = size
        return row
    finally:
        database.drop()


def phoenix_python(venv: Path) -> Path | None:
    """The throwaway venv's Python with Phoenix in it, installing Phoenix there if needed."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import phoenix"], capture_output=True).returncode == 0:
        return python
    log(f"installing arize-phoenix into the throwaway venv {venv} (never into the project's venv)")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True, capture_output=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "arize-phoenix"], check=True, capture_output=True,
                       timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        stderr = getattr(error, "stderr", b"") or b""
        log(f"Phoenix could not be installed: {error} {stderr.decode(errors='replace')[-500:]}")
        return None
    return python


def run_phoenix(otlp_records: list[dict], options: Options, venv: Path) -> Row:
    python = phoenix_python(venv)
    if python is None:
        return Row("Arize Phoenix POST /v1/traces", "sqlite", len(otlp_records), 0, None, 0.0, "NOT RUN: install failed")
    version = subprocess.run([python, "-c", "import phoenix; print(phoenix.__version__)"], capture_output=True,
                             text=True).stdout.strip()
    working_dir = options.workdir / "phoenix"
    working_dir.mkdir(parents=True, exist_ok=True)
    port = options.port_base + 2  # the bare endpoint's port (it has stopped by now); gRPC on +3
    env = dict(os.environ, PHOENIX_PORT=str(port), PHOENIX_HOST="127.0.0.1", PHOENIX_GRPC_PORT=str(port + 1),
               PHOENIX_WORKING_DIR=str(working_dir), PHOENIX_TELEMETRY_ENABLED="false",
               PHOENIX_ALLOW_EXTERNAL_RESOURCES="false")
    server = Server([str(python), str(BENCH_DIR / "phoenix_serve.py")], port, env, working_dir,
                    options.workdir / "phoenix.log")
    try:
        server.start(timeout=180)
    except RuntimeError as error:
        return Row(f"Arize Phoenix {version} POST /v1/traces", "sqlite", len(otlp_records), 0, None, 0.0,
                   f"NOT RUN: {error}")
    spans = SqliteDatabase(working_dir / "phoenix.db")
    try:
        log(f"Arize Phoenix {version}: OTLP (this is the slow one)")
        return measure_otlp(f"Arize Phoenix {version} POST /v1/traces", "sqlite", server.url + "/v1/traces", {},
                            otlp_records, lambda: spans.count("spans"), options,
                            max(options.store_timeout, len(otlp_records) / 50))
    finally:
        server.stop()


# ------------------------------------------------------------------ the report


def log_row(row: Row) -> None:
    rate = f"{row.rate:,.0f}/s" if row.rate else "did not finish"
    log(f"  → {row.name} [{row.database}]: {row.stored:,}/{row.sent:,} stored, {rate} {row.note}")


def report(rows: list[Row], options: Options, load_before: str, started: float) -> list[str]:
    lines = [
        "",
        f"Pilot ingestion benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"{options.count:,} LLM-sized records (~600-char input, ~1,200-char output, ~2 KB of JSON each); "
        f"JSON in batches of {options.batch} from {options.senders} senders; OTLP through the stock exporter "
        f"(512 spans per export); gunicorn -w 2 on 127.0.0.1",
        f"before: {load_before}; after: {machine_load()}; total {time.monotonic() - started:,.0f} s",
        "",
        f"{'target':<42} {'db':<9} {'stored':>17} {'seconds':>8} {'records/s':>10} {'lost':>7}  note",
    ]
    for row in rows:
        seconds = f"{row.seconds:.1f}" if row.seconds else (f"({row.last_seconds:.1f})" if row.stored else "-")
        rate = f"{row.rate:,.0f}" if row.rate else "-"
        lines.append(f"{row.name:<42} {row.database:<9} {f'{row.stored:,}/{row.sent:,}':>17} {seconds:>8} "
                     f"{rate:>10} {row.lost:>7,}  {row.load.split(', ', 1)[-1]} {row.note}")
    lines += ["", "targets:"]
    # The bare endpoint runs first and again last; the faster of its runs is the one compared with.
    bare = max((r for r in rows if r.name.startswith("bare") and r.rate), key=lambda r: r.rate, default=None)
    phoenix = next((r for r in rows if "Phoenix" in r.name), None)
    phoenix_rate = phoenix.rate if phoenix else None
    for row in rows:
        if row.name.startswith("Pilot POST /api/v1/interactions") and bare and bare.rate and row.rate:
            ratio = row.rate / bare.rate
            lines.append(f"  JSON on {row.database}: {ratio:.0%} of the bare endpoint "
                         f"(target ≥ {TARGET_JSON_VS_BARE:.0%}) → {'MET' if ratio >= TARGET_JSON_VS_BARE else 'MISSED'}")
        if row.name.startswith("Pilot POST /v1/traces"):
            if phoenix_rate and row.rate:
                ratio = row.rate / phoenix_rate
                verdict = "MET" if ratio >= TARGET_OTLP_VS_PHOENIX and row.lost == 0 else "MISSED"
                lines.append(f"  OTLP on {row.database}: {ratio:,.1f}× Phoenix end to end (target ≥ "
                             f"{TARGET_OTLP_VS_PHOENIX:.0f}×), {row.lost:,} of {row.sent:,} spans lost (target 0) → {verdict}")
            else:
                lines.append(f"  OTLP on {row.database}: {row.lost:,} of {row.sent:,} spans lost (target 0); "
                             f"no Phoenix figure in this run to compare with")
    for database in dict.fromkeys(r.database for r in rows if r.stored_before is not None):
        sweep = [r for r in rows if r.stored_before is not None and r.database == database]
        empty = next((r for r in sweep if r.stored_before == 0), None)
        for row in sweep:
            if bare and bare.rate and row.rate:
                ratio = row.rate / bare.rate
                lines.append(f"  JSON on {database} holding {row.stored_before:,}: {ratio:.0%} of bare "
                             f"(target ≥ {TARGET_JSON_VS_BARE:.0%}) → {'MET' if ratio >= TARGET_JSON_VS_BARE else 'MISSED'}")
        largest = max(sweep, key=lambda r: r.stored_before)
        if empty and empty.rate and largest.rate and largest is not empty:
            ratio = largest.rate / empty.rate
            lines.append(f"  JSON on {database}: {largest.stored_before:,} stored runs at {ratio:.0%} of the empty "
                         f"pilot's rate (target ≥ {TARGET_LARGEST_VS_EMPTY:.0%}) → "
                         f"{'MET' if ratio >= TARGET_LARGEST_VS_EMPTY else 'MISSED'}")
    if phoenix is not None and phoenix_rate:
        lines.append(f"  Phoenix stored {phoenix.stored:,} of {phoenix.sent:,} spans at {phoenix_rate:,.0f}/s "
                     f"(over the time until its last span was stored)")
    elif phoenix is not None:
        lines.append(f"  Phoenix: {phoenix.note or 'no figure'}")
    return lines


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--count", type=int, default=None, help="records per target (default 20,000; --quick 2,000)")
    parser.add_argument("--batch", type=int, default=100, help="interactions per JSON request (default 100)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent JSON senders (default 4)")
    parser.add_argument("--skip-phoenix", action="store_true", help="do not install/run Arize Phoenix")
    parser.add_argument("--skip-client", action="store_true", help="no pilot.client row")
    parser.add_argument("--quick", action="store_true", help="2,000 records, for a smoke run")
    parser.add_argument("--port-base", type=int, default=5200, help="Pilot on +0/+1, bare on +2, Phoenix on +2/+3 after bare has stopped")
    parser.add_argument("--phoenix-venv", type=Path, default=Path("/tmp/phoenix-venv"))
    parser.add_argument("--sqlite-journal", choices=("wal", "delete"), default="wal",
                        help="journal mode of the bare endpoint's SQLite file (default wal, as Pilot sets on its own "
                        "connections; delete is SQLite's default and slows the bare endpoint down)")
    parser.add_argument("--stored", default="", help="comma-separated sizes of pilots already holding interactions, "
                        "e.g. 0,100000,1000000: the JSON row again into each")
    parser.add_argument("--stored-only", action="store_true", help="with --stored: bare and the sweep only")
    parser.add_argument("--stored-cache", type=Path, default=Path("/tmp/pilot-bench-stored"),
                        help="where built SQLite pilots are kept between runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite files)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    count = args.count or (2_000 if args.quick else 20_000)
    workdir = Path(tempfile.mkdtemp(prefix="pilot-bench-"))
    options = Options(count, args.batch, args.senders, args.port_base, workdir, store_timeout=max(120.0, count / 50),
                      sqlite_journal=args.sqlite_journal, stored_cache=args.stored_cache)
    sizes = [int(size) for size in args.stored.split(",") if size.strip()]
    load_before = machine_load()
    started = time.monotonic()
    log(f"work directory {workdir}; {load_before}")
    records = make_records(count, "json", users=HEAVY_USERS if sizes else None)
    bodies = json_batches(records, args.batch)
    client_records = [] if args.skip_client else make_records(count, "client")
    otlp_records = records  # OTLP spans get their own ids (trace id + span id)
    rows: list[Row] = []
    try:
        log("bare Flask + sqlite3 endpoint")
        rows.append(run_bare(bodies, count, options))
        log_row(rows[-1])
        for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
            if not args.stored_only:
                rows.extend(run_pilot(kind, bodies, count, client_records, otlp_records, options))
            for size in sizes:
                rows.append(run_stored(kind, size, bodies, count, options))
                log_row(rows[-1])
        log("bare Flask + sqlite3 endpoint, again (the machine may have changed pace during the run)")
        rows.append(run_bare(bodies, count, options))
        log_row(rows[-1])
        if not args.skip_phoenix and not args.stored_only:
            rows.append(run_phoenix(otlp_records, options, args.phoenix_venv))
            log_row(rows[-1])
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    lines = report(rows, options, load_before, started)
    print("\n".join(lines), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"count": count, "batch": args.batch, "senders": args.senders,
                                         "rows": [dict(asdict(r), rate=r.rate, lost=r.lost) for r in rows],
                                         "report": lines}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
