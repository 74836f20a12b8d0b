"""Small builders shared by the participant, feedback and embed tests."""
from __future__ import annotations

import struct
import zlib
from datetime import timedelta

import pytest

from pilot.extensions import db
from pilot.models import Interaction, Pilot
from pilot.models.base import utcnow


def make_interaction(pilot: Pilot, event_id: str, user: str | None = "user-1", *, minutes_ago: int = 0,
                     question: str = "How do I reset my card PIN?", answer: str = "Open the app, then Cards → PIN.",
                     membership_id: int | None = None, **columns) -> Interaction:
    interaction = Interaction(
        pilot_id=pilot.id, event_id=event_id, external_user_id=user, membership_id=membership_id,
        occurred_at=utcnow() - timedelta(minutes=minutes_ago), model=columns.pop("model", "claude-sonnet-4-6"),
        input_text=question, output_text=answer, input_chars=len(question), output_chars=len(answer),
        input_hash="abc123", input_tokens=120, output_tokens=80, latency_ms=900.0, cost_usd=0.0015,
        cost_source="computed", status=columns.pop("status", "ok"), meta={"channel": "app"}, **columns,
    )
    db.session.add(interaction)
    db.session.commit()
    return interaction


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG (grey pixels), built without an imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP_HEAD = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


@pytest.fixture()
def upload_dir(app, tmp_path):
    """Uploads of one test go to its own folder."""
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = previous
