"""Start Arize Phoenix (`phoenix serve`) with its gRPC collector on loopback only.

Run with the throwaway Phoenix venv's Python, never the project's. Phoenix binds its gRPC
OTLP port on every interface ("[::]") with no setting to change it; the benchmark must not
listen beyond 127.0.0.1, so this rewrites that one address before Phoenix starts.
"""
import sys

from grpc.aio import _server

_add_insecure_port = _server.Server.add_insecure_port


def _loopback_only(self, address: str) -> int:
    return _add_insecure_port(self, address.replace("[::]", "127.0.0.1"))


_server.Server.add_insecure_port = _loopback_only

from phoenix.server.main import main  # noqa: E402  (after the patch, on purpose)

sys.argv = ["phoenix", "serve"]
sys.exit(main())
