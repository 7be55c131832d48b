"""Issue #13: a conversation shared by replicas through Redis (``store=RedisBackend``).

Three requests of one conversation, each served by a new process: two identical calls per
request and ``max_tool_repeats=5`` are caught on the 6th call, by the third replica.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.redis

HERE = Path(__file__).resolve().parent


def request(url: str, session_id: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(HERE / "conversation_replica.py"), url, session_id, "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_three_requests_on_three_replicas_are_caught_on_the_sixth_call(redis_server):
    answers = [request(redis_server.url, "conv-redis") for _ in range(3)]
    assert answers == ["ran 2", "ran 2", "caught repeat after 2"]


def test_another_conversation_is_not_affected(redis_server):
    for _ in range(2):
        request(redis_server.url, "conv-a")
    assert request(redis_server.url, "conv-b") == "ran 2"
