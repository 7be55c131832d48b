"""Helpers for telemetry tests."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def tree(spans: list[ReadableSpan]) -> list[str]:
    """Render spans as indented lines ``name [result]`` in start order (for assertions)."""
    by_parent: dict[Any, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for s in sorted(spans, key=lambda s: s.start_time):
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(s)
    lines: list[str] = []

    def walk(parent: Any, depth: int) -> None:
        for s in by_parent.get(parent, []):
            result = s.attributes.get("agent_cache.result")
            lines.append("  " * depth + s.name + (f" [{result}]" if result else ""))
            walk(s.context.span_id, depth + 1)

    walk(None, 0)
    return lines
