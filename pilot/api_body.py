"""Reading API request bodies safely: size caps before and after decompression, JSON parsing.

A body over the cap is refused (413) from its Content-Length before a byte is read; a body
without one (chunked) is read in pieces and refused as soon as it passes the cap. gzip and
deflate bodies are inflated in bounded steps, so a zip bomb stops at the cap too.
"""
from __future__ import annotations

import json
import zlib
from typing import Any

from flask import abort, current_app, request

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024
# gzip allows many members in one body; real clients send one. Each member costs a decompressor.
MAX_GZIP_MEMBERS = 1_000
FEED_BYTES = 16 * 1024


def max_body_bytes() -> int:
    return int(current_app.config.get("INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def too_large(limit: int, what: str = "body") -> None:
    abort(413, description=f"The request {what} is over the {limit // (1024 * 1024)} MB limit: send smaller batches.")


def read_body() -> bytes:
    """The request body, decompressed, at most max_body_bytes() both before and after."""
    limit = max_body_bytes()
    if request.content_length is not None and request.content_length > limit:
        too_large(limit)
    chunks, total = [], 0
    stream = request.stream
    while True:
        chunk = stream.read(READ_CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            too_large(limit)
        chunks.append(chunk)
    return decompress(b"".join(chunks), request.headers.get("Content-Encoding", ""), limit)


def decompress(data: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate or none), never producing more than `limit` bytes."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, zlib.MAX_WBITS | 16, limit, "gzip")
    if encoding == "deflate":
        # HTTP "deflate" is zlib-wrapped; some clients send raw deflate, so try both.
        try:
            return _inflate(data, zlib.MAX_WBITS, limit, "deflate")
        except _CorruptBody:
            return _inflate(data, -zlib.MAX_WBITS, limit, "deflate")
    abort(415, description=f"Content-Encoding {content_encoding[:40]!r} is not supported: send gzip, deflate or no encoding.")


class _CorruptBody(Exception):
    pass


def _inflate(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    """Inflate every member of a (possibly multi-member) stream, stopping past `limit`.

    Linear in the body: input is fed in FEED_BYTES windows of one memoryview, so a member's
    leftover (`unused_data`) is never more than a window, however many members follow; and
    there are at most MAX_GZIP_MEMBERS members (real clients send one).
    """
    output = bytearray()
    view = memoryview(data)
    position, members = 0, 0
    try:
        while position < len(view):
            if view[position] == 0 and wbits > 0:  # NUL padding after the last member
                if any(view[position:]):
                    raise _CorruptBody()
                break
            members += 1
            if members > MAX_GZIP_MEMBERS:
                abort(400, description=f"The {name} body has more than {MAX_GZIP_MEMBERS:,} members: "
                                       "send one compressed stream.")
            inflater = zlib.decompressobj(wbits)
            while not inflater.eof:
                if position >= len(view):
                    raise _CorruptBody()  # truncated
                window = view[position:position + FEED_BYTES]
                output += inflater.decompress(window, limit + 1 - len(output))
                if len(output) > limit:
                    too_large(limit, "body (after decompression)")
                position += len(window) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
            if wbits < 0:
                break
    except (zlib.error, _CorruptBody):
        if name == "deflate" and wbits > 0:
            raise _CorruptBody() from None
        abort(400, description=f"The body is not valid {name} data (Content-Encoding: {name}).")
    return bytes(output)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes) -> Any:
    """Strict JSON (no NaN/Infinity) from UTF-8 bytes, or a 400 that says what is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        abort(400, description="The body is not valid UTF-8 JSON.")
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        abort(400, description="The body is not valid JSON: it nests too deeply.")
    except ValueError as error:
        abort(400, description=f"The body is not valid JSON: {str(error)[:200]}")


def require_content_type(*accepted: str) -> str:
    """The request's media type if it is one of `accepted` (or a +json type for JSON), else 415."""
    mimetype = request.mimetype
    if mimetype in accepted or ("application/json" in accepted and mimetype.endswith("+json")):
        return mimetype
    shown = mimetype or "none"
    abort(415, description=f"Content-Type {shown[:80]!r} is not supported: send {' or '.join(accepted)}.")
