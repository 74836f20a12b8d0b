"""Contract tests: the published client stacks, run in .venv-contract, export through the stock
exporter to a live Pilot test server; the stored rows are compared with what the client saw.

One run per (stack, encoding) serves every test of that pair: the first test that needs it runs
the stack script against the live server and keeps the stored rows; the others read the cache.
Under `--dist loadfile` a file's tests stay on one worker, so each pair runs once.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.contract import venv
from tests.contract.fake_provider import FakeProviderServer

STACKS_DIR = Path(__file__).parent / "stacks"
REPORT_DIR = venv.ROOT / "out" / "contract"
ENCODINGS = ("protobuf", "json")
RUN_TIMEOUT = 180


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "contract: real client stacks against a live server (tests/contract)")


def pytest_collection_modifyitems(items) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.contract)


@dataclass(frozen=True)
class Stack:
    name: str
    script: str
    args: tuple[str, ...] = ()


@dataclass
class Run:
    stack: Stack
    encoding: str
    calls: dict[str, dict[str, Any]]
    spans: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    partial_success: list[Any] = field(default_factory=list)

    def spans_of(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["trace_id"] in call["trace_ids"]]

    def rows_of(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["trace_id"] in call["trace_ids"]]


_RUNS: dict[str, dict[str, Run]] = {}
_ROW_FIELDS = ("pilot_id", "event_id", "trace_id", "external_user_id", "session_id", "model", "input_text",
               "output_text", "input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
               "tokens_estimated", "latency_ms", "ttft_ms", "status", "error_message", "cost_usd", "cost_source",
               "meta", "source")


@pytest.fixture(scope="session")
def contract_python() -> Path:
    try:
        return venv.ensure_venv()
    except subprocess.CalledProcessError as error:
        pytest.skip(f"the contract venv could not be installed from requirements-contract.txt: {error}")


@pytest.fixture(scope="session")
def fake_provider():
    server = FakeProviderServer().start()
    yield server
    server.stop()


@pytest.fixture()
def contract_run(request, contract_python, fake_provider):
    """contract_run(stack, encoding) → the Run: executed on first use, then cached for the file."""

    def get(stack: Stack, encoding: str) -> Run:
        if stack.name not in _RUNS:
            _RUNS[stack.name] = _execute(request, contract_python, fake_provider, stack)
        return _RUNS[stack.name][encoding]

    return get


def _execute(request, python: Path, provider: FakeProviderServer, stack: Stack) -> dict[str, Run]:
    """Run the stack once; its spans go out in both encodings, each to a pilot of its own."""
    from pilot.extensions import db
    from pilot.models import Flag, Interaction
    from pilot.pilots.services import mint_api_key

    server = request.getfixturevalue("live_server")
    world = request.getfixturevalue("world")
    pilots = {"protobuf": world.pilot, "json": world.other_pilot}
    keys = {encoding: mint_api_key(db.session, pilot, None, name=f"contract-{encoding}")[1]
            for encoding, pilot in pilots.items()}
    db.session.commit()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "OPENAI_"))},
           "PILOT_OTLP_ENDPOINT": f"{server}/v1/traces", "PILOT_OTLP_TARGETS": json.dumps(keys),
           "FAKE_PROVIDER_URL": provider.url, "CONTRACT_RUN_ID": f"{stack.name}-{uuid.uuid4().hex[:6]}",
           "PYTHONPATH": str(STACKS_DIR), "NO_PROXY": "127.0.0.1,localhost"}
    completed = subprocess.run([str(python), str(STACKS_DIR / stack.script), *stack.args], env=env,
                               capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=STACKS_DIR)
    if completed.returncode != 0:
        pytest.fail(f"{stack.name} exited {completed.returncode}:\n{completed.stderr[-4000:]}")
    output = json.loads(completed.stdout)
    db.session.rollback()
    flags: dict[int, list[str]] = {}
    for interaction_id, reason in db.session.execute(sa.select(Flag.interaction_id, Flag.reason)):
        flags.setdefault(interaction_id, []).append(reason)
    rows = [{**{name: getattr(row, name, None) for name in _ROW_FIELDS}, "flags": sorted(flags.get(row.id, []))}
            for row in db.session.scalars(sa.select(Interaction).order_by(Interaction.id))]
    runs = {}
    for encoding, pilot in pilots.items():
        runs[encoding] = Run(stack, encoding, {c["name"]: c for c in output["calls"]}, output["spans"],
                             [r for r in rows if r["pilot_id"] == pilot.id], output.get("partial_success") or [])
        _write_report(runs[encoding], completed.stderr)
    return runs


def _write_report(run: Run, stderr: str) -> None:
    """out/contract/<stack>-<encoding>.json: calls, spans and rows, for FINDINGS.md and debugging."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    document = {"stack": run.stack.name, "encoding": run.encoding, "calls": run.calls, "spans": run.spans,
                "rows": run.rows, "partial_success": run.partial_success, "stderr": stderr[-4000:]}
    path = REPORT_DIR / f"{run.stack.name}-{run.encoding}.json"
    path.write_text(json.dumps(document, indent=1, default=str))
