"""The dashboard's HTTP side, without a browser: the stream, the controls' checks, and
``serve()`` attached to an application's own caches."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from dashboard_support import DashboardProcess


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_event_stream_sends_history_then_samples(dashboard_process: DashboardProcess) -> None:
    with urllib.request.urlopen(dashboard_process.url + "events", timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events: list[str] = []
        while len(events) < 3:
            line = stream.readline().decode()
            if line.startswith("event: "):
                events.append(line.split(": ", 1)[1].strip())
    assert events[0] == "history" and events[1:] == ["sample", "sample"]


@pytest.mark.parametrize("body,named", [
    ({"concurrency": 0}, "concurrency"), ({"loop_rate": 2}, "loop_rate"),
    ({"latency_ms": "fast"}, "latency_ms"), ({"speed": 1}, "speed"),
])
def test_bad_settings_are_refused_with_the_field_named(dashboard_process: DashboardProcess, body, named) -> None:
    status, answer = post(dashboard_process.url + "api/workload/config", body)
    assert status == 400 and named in answer["error"]


def test_invalidating_a_resource_counts_an_invalidation(dashboard_process: DashboardProcess) -> None:
    status, _ = post(dashboard_process.url + "api/workload/stop", {})
    assert status == 200
    before = get(dashboard_process.url + "api/state")
    status, figures = post(dashboard_process.url + "api/workload/invalidate", {"resource": "product"})
    assert status == 200 and not figures["running"]
    status, answer = post(dashboard_process.url + "api/workload/invalidate", {"resource": "ticket"})
    assert status == 400 and "resource must be one of" in answer["error"]
    sessions = get(dashboard_process.url + "api/sessions")
    mine = [s for s in sessions if s["name"] == "dashboard.invalidate product"]
    assert mine and mine[0]["invalidations"] == 1
    assert before["invalidations"] >= 0
    post(dashboard_process.url + "api/workload/start", {})


def test_serve_attaches_to_an_application_s_own_caches() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from agent_cache import AgentCache, AgentCacheSession
    from agent_cache.dashboard import serve
    from otel_globals import install_providers, uninstall_providers

    install_providers(TracerProvider(), None)  # the application's own SDK
    handle = serve(port=0)
    try:
        @AgentCache(resource="profile", name="get_profile")
        async def get_profile(user: str) -> dict[str, str]:
            return {"user": user}

        async def app() -> None:
            async with AgentCacheSession(session_id="attached-1", name="app-agent"):
                await get_profile("u1")
                await get_profile("u1")

        asyncio.run(app())
        sessions = get(handle.url + "api/sessions")
        assert [s["name"] for s in sessions] == ["invoke_agent app-agent"]
        assert sessions[0]["results"] == {"miss": 1, "hit": 1}
        status, answer = post(handle.url + "api/workload/start", {})
        assert status == 400 and "drives no workload" in answer["error"]
        assert "attached" in get(handle.url + "api/state")["telemetry"]
    finally:
        handle.stop()
        uninstall_providers(shutdown=True)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(handle.url.rsplit(":", 1)[1].strip("/"))), timeout=1)


def test_serve_checks_its_port() -> None:
    from agent_cache.dashboard import serve

    with pytest.raises(ValueError, match="port"):
        serve(port=70000)


@pytest.mark.parametrize("args,named", [(["--port", "70000"], "--port"), (["--loop-rate", "2"], "--loop-rate"),
                                        (["--concurrency", "0"], "--concurrency")])
def test_bad_command_line_options_exit_2_naming_the_option(capsys, args, named) -> None:
    from agent_cache.dashboard.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_a_taken_port_is_a_clear_error(capsys) -> None:
    from agent_cache.dashboard.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--no-start"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
