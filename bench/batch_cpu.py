"""In-process ingest of 1,000-item batches into a copy of a stored bench pilot: CPU and wall per batch.

    cp /tmp/pilot-bench-stored/sqlite-1000000.db /tmp/copy.db      # never the cached file itself
    python bench/batch_cpu.py sqlite:////tmp/copy.db [BATCHES] [--upgrade]

10 enrolled members of the bench pilot take turns over a daily limit of 900 (most items flagged),
LLM-sized texts from bench/harness.py; each batch is `ingest_items` + COMMIT, timed with
time.process_time (this process's CPU: what the code costs on a shared machine) and wall time.
The first batch warms caches and is left out of the median. --upgrade migrates the copy first.
"""
import os
import statistics
import sys
import time

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(os.path.abspath(__file__))]
import sqlalchemy as sa  # noqa: E402
from harness import make_records  # noqa: E402
from report import make_app  # noqa: E402

from pilot.extensions import db  # noqa: E402
from pilot.ingest.services import ingest_items  # noqa: E402
from pilot.models import Membership, Pilot  # noqa: E402

arguments = [a for a in sys.argv[1:] if a != "--upgrade"]
url, batches = arguments[0], int(arguments[1]) if len(arguments) > 1 else 11
app = make_app(url)
with app.app_context():
    if "--upgrade" in sys.argv:
        from flask_migrate import upgrade

        upgrade()
    pilot = db.session.scalar(sa.select(Pilot).where(Pilot.slug == "bench-pilot"))
    pilot.daily_request_limit = 900
    users = db.session.scalars(sa.select(Membership.external_id).where(Membership.pilot_id == pilot.id,
                               Membership.role == "participant").order_by(Membership.external_id).limit(10)).all()
    db.session.commit()
    records = make_records(batches * 1000, f"b{os.getpid()}", users=list(users))
    cpu, wall = [], []
    for n in range(batches):
        started, started_cpu = time.perf_counter(), time.process_time()
        ingest_items(db.session, pilot, records[n * 1000:(n + 1) * 1000], source="api")
        db.session.commit()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    print(f"{url}: median of {batches - 1} batches (first skipped): CPU {statistics.median(cpu[1:]):.0f} ms, "
          f"wall {statistics.median(wall[1:]):.0f} ms; load {os.getloadavg()[0]:.2f}")
