"""A live local dashboard for agent_cache: no Docker, no Grafana, one command.

``python -m agent_cache.dashboard`` (``make dashboard``) serves http://127.0.0.1:5001/ and
drives the demo's simulated agents in process: live figures and charts, recent sessions as
span waterfalls, load controls (start/stop, concurrency, loop rate, latency, a herd of
concurrent misses, invalidating a resource) and a playground for the core caches.

Attach the same page to a running application as a zero-infrastructure debug view::

    from agent_cache.dashboard import serve
    handle = serve(port=5001)          # a daemon thread; handle.url, handle.stop()

or mount the ASGI app yourself: ``create_app()`` (forward lifespan events to it).

Needs the ``dashboard`` extra: ``pip install 'agent_cache[dashboard]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Dashboard, create_app
    from .server import DashboardHandle, serve

__all__ = ["Dashboard", "DashboardHandle", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Import the server stack only when asked for: a clear message without the extra.
    if name in __all__:
        try:
            from . import app, server
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise ImportError(
                f"the dashboard needs the dashboard extra: pip install 'agent_cache[dashboard]' ({exc})"
            ) from exc
        return {"Dashboard": app.Dashboard, "create_app": app.create_app,
                "DashboardHandle": server.DashboardHandle, "serve": server.serve}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
