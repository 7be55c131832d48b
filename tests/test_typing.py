"""The decorators' typed surface, as a user's type checker sees it.

``@AsyncLRU``/``@AsyncTTL`` return a ``CachedFunction[P, R]`` and ``@AgentCache`` a
``CachedToolFunction[P, R]``: the decorated function's own parameters and result, plus the
handles (``get_metrics``, ``invalidate_cache``, ``clear_cache``, ``cache``, ``resource``,
``scope``, ``tool_name``). Each test runs ``mypy --strict`` on a small user module in a
subprocess: the correct uses must pass, each wrong use must be reported on its line.

Errors inside agent_cache itself are not this file's business (``make lint`` checks the
package); ``--follow-imports=silent`` reads the package as a user's installed copy is read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
    from __future__ import annotations

    from collections.abc import Awaitable
    from typing import Any

    from agent_cache import AgentCache, AsyncCache, AsyncLRU, AsyncTTL


    @AsyncLRU(maxsize=16)
    async def square(x: int) -> int:
        return x * x


    @AsyncTTL(time_to_live=5)
    async def greet(name: str, *, loud: bool = False) -> str:
        return name.upper() if loud else name


    @AgentCache(resource="cart", ttl=60)
    async def get_cart(user_id: str) -> list[str]:
        return [user_id]


    class Repo:
        @AsyncTTL(time_to_live=60, skip_args=1)
        async def fetch(self, key: str) -> bytes:
            return key.encode()


    async def main() -> None:
        n: int = await square(3)
        pending: Awaitable[int] = square(4)
        s: str = await greet("a", loud=True)
        removed: bool = square.invalidate_cache(3)
        dropped: int = square.clear_cache()
        metrics: dict[str, Any] = square.get_metrics()
        cache: AsyncCache = square.cache
        b: bytes = await Repo().fetch("k")
        bound_metrics: dict[str, Any] = Repo().fetch.get_metrics()
        Repo.fetch.invalidate_cache(Repo(), "k")

        cart: list[str] = await get_cart("u1")
        tool_metrics: dict[str, Any] = get_cart.get_metrics()
        tool_cache: AsyncCache | None = get_cart.cache
        labels: tuple[str, str, str] = (get_cart.resource, get_cart.scope, get_cart.tool_name)
        print(n, await pending, s, removed, dropped, metrics, cache, b, bound_metrics)
        print(cart, tool_metrics, tool_cache, labels)
"""

# Each line marked ``# E`` must be reported; no other line may be.
BAD = """
    from __future__ import annotations

    from agent_cache import AgentCache, AsyncCache, AsyncLRU


    @AsyncLRU(maxsize=16)
    async def square(x: int) -> int:
        return x * x


    @AgentCache(resource="cart")
    async def get_cart(user_id: str) -> list[str]:
        return [user_id]


    async def main() -> None:
        s: str = await square(3)  # E: the result is an int
        await square("three")  # E: x is an int
        await square(3, 4)  # E: one parameter
        square.invalidate_cache("three")  # E: the same parameters as the call
        square.no_such_handle()  # E: no such attribute
        n: str = square.clear_cache()  # E: clear_cache returns an int
        await get_cart(1)  # E: user_id is a str
        c: AsyncCache = get_cart.cache  # E: None for scope="session"
        get_cart.invalidate_cache("u1")  # E: a tool has no invalidate_cache
        print(s, n, c)
"""


def run_mypy(tmp_path: Path, source: str) -> tuple[int, str, Path]:
    module = tmp_path / "user_code.py"
    module.write_text(textwrap.dedent(source))
    config = tmp_path / "mypy.ini"  # the flags below, not a config found elsewhere
    config.write_text("[mypy]\n")
    env = dict(os.environ)
    # The checkout, not whatever copy is installed, is what we check.
    env["MYPYPATH"] = str(ROOT)
    proc = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict",
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir", os.devnull,
            "--config-file", str(config),
            "--python-version", "3.10",
            module.name,
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr, module


def error_lines(output: str, module: Path) -> set[int]:
    pattern = re.compile(rf"^{re.escape(module.name)}:(\d+): error:", re.MULTILINE)
    return {int(m.group(1)) for m in pattern.finditer(output)}


def test_correct_use_of_the_typed_handles_passes_mypy_strict(tmp_path: Path) -> None:
    code, output, _ = run_mypy(tmp_path, GOOD)
    assert code == 0, output
    assert "Success" in output, output


def test_each_wrong_use_is_reported_on_its_line(tmp_path: Path) -> None:
    code, output, module = run_mypy(tmp_path, BAD)
    assert code == 1, output
    source_lines = textwrap.dedent(BAD).splitlines()
    expected = {i for i, line in enumerate(source_lines, start=1) if "# E" in line}
    assert len(expected) == 9
    assert error_lines(output, module) == expected, output
