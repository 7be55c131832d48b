"""Every ```python block in README.md runs, top-level ``await`` included, and its asserts hold."""

from __future__ import annotations

import ast
import re
import types
from pathlib import Path

import pytest

import agent_cache

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
async def test_readme_block_runs(source: str):
    agent_cache.reset_global_state()
    code = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict = {"__name__": "readme"}
    result = types.FunctionType(code, namespace)()
    if result is not None and hasattr(result, "__await__"):
        await result
