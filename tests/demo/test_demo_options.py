"""Bad options exit non-zero with a message that names the option."""

from __future__ import annotations

import pytest

from agent_cache.demo.__main__ import main
from agent_cache.demo.options import DEFAULTS, SHORT, parse


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sessions", "0"], "--sessions: must be an integer >= 1"),
        (["--sessions", "many"], "--sessions: must be an integer >= 1"),
        (["--concurrency", "-3"], "--concurrency: must be an integer >= 1"),
        (["--duration", "0"], "--duration: must be a number of seconds"),
        (["--duration", "nan"], "--duration: must be a number of seconds"),
        (["--loop-rate", "1.5"], "--loop-rate: must be a number between 0 and 1"),
        (["--latency-ms", "-1"], "--latency-ms: must be a number >= 0"),
        (["--scope", "planet"], "--scope: invalid choice"),
        (["--prometheus-port", "70000"], "--prometheus-port: must be a TCP port"),
        (["--seed", "x"], "--seed: invalid int value"),
        (["--no-such-option"], "unrecognized arguments"),
        (["--redis", "localhost:6379"], "--redis: must be a redis:// rediss:// or unix:// URL"),
        (["--outage", "10"], "--outage: must be START:SECONDS[:raise|hang]"),
        (["--outage", "10:5:explode"], "--outage: mode must be raise or hang"),
        (["--outage", "x:5"], "--outage: START and SECONDS must be numbers"),
        (["--outage=-1:5"], "--outage: START must be a number of seconds in [0, 3600]"),
        (["--outage", "10:0"], "--outage: SECONDS must be a number of seconds in (0, 3600]"),
        (["--outage", "10:nan:hang"], "--outage: SECONDS must be a number of seconds in (0, 3600]"),
        (["--outage", "1:2:3:raise"], "--outage: must be START:SECONDS[:raise|hang]"),
    ],
)
def test_bad_option_exits_2_with_message(capsys, args, needle):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.startswith("usage: agent-cache-demo")


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--loop-rate" in capsys.readouterr().out


def test_short_preset_and_explicit_overrides():
    config, _ = parse(["--short"])
    assert config == SHORT
    config, _ = parse(["--short", "--sessions", "9", "--scope", "global"])
    assert (config.sessions, config.scope, config.concurrency) == (9, "global", SHORT.concurrency)
    config, _ = parse([])
    assert config == DEFAULTS


def test_outage_option():
    from agent_cache.demo.upstream import Outage

    config, _ = parse(["--short", "--outage", "2:3.5"])
    assert config.outage == Outage(2.0, 3.5, "raise") and config.outage.end_s == 5.5
    assert config.upstream == SHORT.upstream  # the preset's web-API profile is kept
    config, _ = parse(["--outage", "60:45:hang"])
    assert (config.outage, config.upstream) == (Outage(60.0, 45.0, "hang"), DEFAULTS.upstream)
    assert parse([])[0].outage is None


def test_busy_prometheus_port_is_a_clear_error(capsys):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["--short", "--prometheus-port", str(port)]) == 2
    assert "telemetry setup failed" in capsys.readouterr().err
