"""Serving a simulator over real HTTP on loopback, from a background thread.

Tests and the embedded stack want the real wire — sockets, headers, timeouts —
without a second process. :func:`serve_in_thread` binds the socket itself (so
``port=0`` gives a free port that is known before the first request), runs
uvicorn on it in a daemon thread, and on exit asks uvicorn to stop, forcing it
if a simulated slow answer keeps a connection open.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

#: How long start-up and each shutdown phase may take before we give up.
_WAIT_SECONDS = 10.0


@contextmanager
def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve ``app`` while the ``with`` block runs; yields its base URL.

    Raises ``RuntimeError`` if the server does not start within ten seconds.
    """
    sock = _bound_socket(host, port)
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name="simulator-http",
        daemon=True,
    )
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield _base_url(host, sock.getsockname()[1])
    finally:
        _stop(server, thread)
        sock.close()


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _WAIT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator HTTP server did not start")
        time.sleep(0.01)


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(_WAIT_SECONDS / 2)
    if thread.is_alive():
        server.force_exit = True
        thread.join(_WAIT_SECONDS / 2)


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
