"""The practical ceiling: a bare Flask endpoint that stores the same JSON batches with
sqlite3's executemany, one commit per request, and nothing else (no auth, no validation, no
pricing, no flagging). Served like Pilot: `gunicorn -w 2 -b 127.0.0.1:PORT bare_app:app`.

The SQLite file is BARE_DB; its journal mode is BARE_JOURNAL (bench/ingest.py passes WAL, which
Pilot sets on every connection; synchronous stays FULL, as in Pilot).
"""
from __future__ import annotations

import json
import os
import sqlite3

from flask import Flask, g, request

DATABASE = os.environ.get("BARE_DB", "bare.db")
JOURNAL = os.environ.get("BARE_JOURNAL", "")
COLUMNS = ("event_id", "external_user_id", "session_id", "occurred_at", "model", "prompt_version", "input_text",
           "output_text", "input_tokens", "cached_input_tokens", "output_tokens", "latency_ms", "ttft_ms", "status",
           "metadata")
SCHEMA = """CREATE TABLE IF NOT EXISTS interaction (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE,
    external_user_id TEXT, session_id TEXT, occurred_at TEXT, model TEXT, prompt_version TEXT, input_text TEXT,
    output_text TEXT, input_tokens INTEGER, cached_input_tokens INTEGER, output_tokens INTEGER, latency_ms REAL,
    ttft_ms REAL, status TEXT, metadata TEXT)"""
INSERT = f"INSERT OR IGNORE INTO interaction ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

app = Flask(__name__)


def connection() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE, timeout=30)
        if JOURNAL:
            g.db.execute(f"PRAGMA journal_mode={JOURNAL}")
    return g.db


@app.teardown_appcontext
def close(_exception) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


with app.app_context():
    connection().execute(SCHEMA)
    connection().commit()


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/ingest")
def ingest():
    items = request.get_json()["interactions"]
    rows = [(item["id"], item.get("user"), item.get("session"), item.get("timestamp"), item.get("model"),
             item.get("prompt_version"), item.get("input"), item.get("output"), item.get("input_tokens"),
             item.get("cached_input_tokens"), item.get("output_tokens"), item.get("latency_ms"), item.get("ttft_ms"),
             item.get("status"), json.dumps(item.get("metadata"))) for item in items]
    db = connection()
    db.executemany(INSERT, rows)
    db.commit()
    return {"accepted": len(rows)}
