"""Real services for integration tests, started on 127.0.0.1 only when a test asks for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Run moto's S3-compatible HTTP server in a thread for the session; yield ``host:port``."""
    moto_server = pytest.importorskip("moto.server")

    # Port 0 lets the OS pick a free port, so parallel runs on one machine do not collide.
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()
