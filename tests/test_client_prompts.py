"""PilotClient.prompt against a live server: the version per user, the ETag, and the fallback."""
from __future__ import annotations

import socket

from pilot.client import PilotClient
from pilot.extensions import db as _db
from pilot.prompts import naming, registry


def _registry(world):
    v1 = registry.create_version(_db.session, world.pilot, "support", "Answer briefly: {{q}}")
    v2 = registry.create_version(_db.session, world.pilot, "support", "Answer kindly: {{q}}")
    registry.move_label(_db.session, v1.prompt, "production", v1, world.lead)
    registry.move_label(_db.session, v1.prompt, "candidate", v2, world.lead)
    registry.set_rollout(_db.session, v1.prompt, 50, world.lead)
    _db.session.commit()


def _free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_prompt_per_user_then_cached_then_fallback(world, api_key, live_server, caplog):
    _registry(world)
    client = PilotClient(live_server, api_key, timeout=2)
    try:
        for user in ("cust-1", "cust-2", "cust-3", "cust-4"):
            answer = client.prompt("support", user=user, pilot="alpha")
            expected = "candidate" if naming.gets_candidate("alpha", "support", user, 50) else "production"
            assert answer["label"] == expected and answer["prompt_version"] == f"support@{answer['version']}"
        again = client.prompt("support", user="cust-1", pilot="alpha")  # a 304 answered from the cache
        assert again == client.prompt("support", user="cust-1", pilot="alpha")
        assert client.prompt("nope", user="cust-1", pilot="alpha") is None  # 404, never seen: None
    finally:
        client.close()

    offline = PilotClient(_free_port_url(), api_key, timeout=0.5)
    assert offline.prompt("support", user="cust-1", pilot="alpha") is None  # never seen, unreachable
    offline._prompts._answers = client._prompts._answers  # as if seen before Pilot went down
    offline._prompts._latest = client._prompts._latest
    assert offline.prompt("support", user="cust-1", pilot="alpha")["template"] == again["template"]
    assert offline.prompt("support", user="someone-new", pilot="alpha")["name"] == "support"  # prompt's last
    offline.close()


def test_prompt_survives_the_server_going_away(world, api_key, app):
    """Seen once from a live server, then the server stops: the last version is served."""
    import threading

    from werkzeug.serving import make_server

    _registry(world)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = PilotClient(f"http://127.0.0.1:{server.server_port}", api_key, timeout=1)
    first = client.prompt("support", user="cust-9", pilot="alpha")
    server.shutdown()
    server.server_close()
    thread.join(5)
    assert client.prompt("support", user="cust-9", pilot="alpha") == first
    client.close()
