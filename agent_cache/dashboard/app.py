"""The dashboard's ASGI application (Starlette): the page, its JSON API and a live SSE stream.

Routes (all under whatever prefix the app is mounted at):

=========================  ===========================================================
``GET /``                  the page (static HTML + the vendored uPlot, no CDN)
``GET /events``            Server-Sent Events: ``history`` once, then a ``sample`` a second
``GET /api/state``         the latest sample (what the stream sends)
``GET /api/sessions``      recent sessions; ``/api/sessions/{trace_id}`` one waterfall
``POST /api/workload/*``   ``start``, ``stop``, ``config``, ``herd``, ``invalidate``
``POST /api/playground/*`` ``configure``, ``op``
=========================  ===========================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .figures import Sampler
from .playground import Playground
from .spans import SessionSpans, install
from .workload import LiveWorkload

STATIC = Path(__file__).parent / "static"
SAMPLE_EVERY_S = 1.0


class Dashboard:
    """The dashboard's state: span processor, sampler, optional workload, playground."""

    def __init__(self, *, workload: bool = True, autostart: bool = False, spans: SessionSpans | None = None,
                 sample_every_s: float = SAMPLE_EVERY_S) -> None:
        self.spans = spans or SessionSpans()
        self.telemetry_note = install(self.spans) if spans is None else "span processor given by the caller"
        self.workload = LiveWorkload() if workload else None
        self.autostart = autostart
        self.playground = Playground()
        self.sampler = Sampler(self.spans, self.workload.figures if self.workload is not None else None)
        self.sample_every_s = sample_every_s
        self._tick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.sampler.sample()
        self._task = asyncio.ensure_future(self._sample_forever())
        if self.workload is not None and self.autostart:
            await self.workload.start()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.workload is not None:
            await self.workload.close()

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sample_every_s)
            self.sampler.sample()
            tick, self._tick = self._tick, asyncio.Event()
            tick.set()

    def latest(self) -> dict[str, Any]:
        point = self.sampler.history[-1] if self.sampler.history else self.sampler.sample()
        return {**point, "sessions": self.spans.recent(20), "telemetry": self.telemetry_note,
                "has_workload": self.workload is not None}

    async def events(self) -> AsyncIterator[str]:
        history = list(self.sampler.history)
        yield f"event: history\ndata: {json.dumps(history)}\n\n"
        yield f"event: sample\ndata: {json.dumps(self.latest())}\n\n"
        while True:
            await self._tick.wait()
            yield f"event: sample\ndata: {json.dumps(self.latest())}\n\n"


def _bad_request(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _body(request: Request) -> dict[str, Any]:
    if not await request.body():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise TypeError("the request body must be a JSON object")
    return data


def create_app(dashboard: Dashboard | None = None, **options: Any) -> Starlette:
    """The ASGI app; mount it in any ASGI server (``options`` go to :class:`Dashboard`).

    Must be started by an ASGI server (its lifespan starts the sampler), or mounted with the
    host app forwarding lifespan events.
    """
    state: dict[str, Dashboard] = {}

    def dash() -> Dashboard:
        return state["dashboard"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["dashboard"] = dashboard if dashboard is not None else Dashboard(**options)
        await state["dashboard"].start()
        try:
            yield
        finally:
            await state["dashboard"].stop()

    def handler(fn: Callable[[Request, Dashboard], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await fn(request, dash())
            except (ValueError, TypeError) as exc:  # bad input from the page: say which
                return _bad_request(exc)
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        return StreamingResponse(dash().events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def state_(request: Request, d: Dashboard) -> Any:
        return d.latest()

    async def sessions(request: Request, d: Dashboard) -> Any:
        return d.spans.recent(60)

    async def session(request: Request, d: Dashboard) -> Any:
        found = d.spans.waterfall(request.path_params["trace_id"])
        return found if found is not None else JSONResponse({"error": "no such session (kept: the last 60)"}, 404)

    def workload(d: Dashboard) -> LiveWorkload:
        if d.workload is None:
            raise ValueError("this dashboard is attached to an application: it drives no workload")
        return d.workload

    async def wl_start(request: Request, d: Dashboard) -> Any:
        await workload(d).start()
        return workload(d).figures()

    async def wl_stop(request: Request, d: Dashboard) -> Any:
        await workload(d).stop()
        return workload(d).figures()

    async def wl_config(request: Request, d: Dashboard) -> Any:
        workload(d).configure(await _body(request))
        return workload(d).figures()

    async def wl_herd(request: Request, d: Dashboard) -> Any:
        body = await _body(request)
        result = await workload(d).herd(body.get("n", 50))
        await asyncio.sleep(0)  # let the processor file the herd's root span
        return {**result, "session": d.spans.waterfall(result["trace_id"])}

    async def wl_invalidate(request: Request, d: Dashboard) -> Any:
        body = await _body(request)
        await workload(d).invalidate(str(body.get("resource", "")))
        return workload(d).figures()

    async def pg_configure(request: Request, d: Dashboard) -> Any:
        return d.playground.configure(await _body(request))

    async def pg_op(request: Request, d: Dashboard) -> Any:
        body = await _body(request)
        n = body.get("n", 10)
        return await d.playground.run(str(body.get("op", "")), key=str(body.get("key", "k1")),
                                      value=str(body.get("value", "")), n=int(n) if isinstance(n, (int, str)) else n)

    async def pg_state(request: Request, d: Dashboard) -> Any:
        return d.playground.state()

    routes = [
        Route("/", index),
        Route("/events", events),
        Route("/api/state", handler(state_)),
        Route("/api/sessions", handler(sessions)),
        Route("/api/sessions/{trace_id}", handler(session)),
        Route("/api/workload/start", handler(wl_start), methods=["POST"]),
        Route("/api/workload/stop", handler(wl_stop), methods=["POST"]),
        Route("/api/workload/config", handler(wl_config), methods=["POST"]),
        Route("/api/workload/herd", handler(wl_herd), methods=["POST"]),
        Route("/api/workload/invalidate", handler(wl_invalidate), methods=["POST"]),
        Route("/api/playground/configure", handler(pg_configure), methods=["POST"]),
        Route("/api/playground/op", handler(pg_op), methods=["POST"]),
        Route("/api/playground", handler(pg_state)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
