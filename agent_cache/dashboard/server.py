"""Running the dashboard: in the foreground (``python -m agent_cache.dashboard``) or beside an
application (:func:`serve`), with uvicorn.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field

import uvicorn

from .app import Dashboard, create_app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: any free one); ``OSError`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server(dashboard: Dashboard) -> uvicorn.Server:
    config = uvicorn.Config(create_app(dashboard), log_level="warning", lifespan="on", access_log=False)
    return uvicorn.Server(config)


async def run(sock: socket.socket, dashboard: Dashboard) -> None:
    """Serve on ``sock`` until asked to exit (SIGINT / SIGTERM in the main thread)."""
    await _server(dashboard).serve(sockets=[sock])


@dataclass
class DashboardHandle:
    """A dashboard serving beside an application; :meth:`stop` ends it."""

    url: str
    dashboard: Dashboard
    _server: uvicorn.Server
    _thread: threading.Thread
    _errors: list[BaseException] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def serve(port: int = 5001, host: str = "127.0.0.1", *, workload: bool = False,
          autostart: bool = False, timeout: float = 10.0) -> DashboardHandle:
    """Serve the dashboard for the running application, from a daemon thread.

    It shows what the process's agent_cache does (``get_metrics()``, and the span trees of
    its sessions through a span processor added to the app's OpenTelemetry SDK, or to one
    installed for it), plus the core playground. ``workload=True`` also offers the demo's
    simulated agents (off for an application: they would share its caches' figures).
    Raises ``OSError`` when the port is taken.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer 0-65535, got {port!r}")
    sock = bind(host, port)
    dashboard = Dashboard(workload=workload, autostart=autostart)
    server = _server(dashboard)
    started = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        async def go() -> None:
            task = asyncio.ensure_future(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            started.set()
            await task

        try:
            asyncio.run(go())
        except BaseException as exc:  # surfaced by serve() if it happens before start
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=main, name="agent-cache-dashboard", daemon=True)
    thread.start()
    if not started.wait(timeout) or errors:
        server.should_exit = True
        raise RuntimeError(f"the dashboard did not start: {errors[0] if errors else 'timeout'}")
    return DashboardHandle(url_of(sock), dashboard, server, thread, errors)
