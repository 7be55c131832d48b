"""Loop detection over a session's tool calls, in O(1) amortised work per call.

Three checks, in this order, on every recorded call:

1. **max_depth** — more than ``max_depth`` calls in the session;
2. **repeat** — the same tool with the same arguments more than ``max_repeats`` times;
3. **cycle** — the last ``L`` tool names equal the ``L`` before them, for some
   ``2 <= L <= max_cycle_length``, with at least two distinct tools in the block
   (``A → B → A → B``). A tool repeating alone is a *repeat*, not a cycle.

The reference rescans the whole trace per call (O(n) for repeats, O(L²) slicing for
cycles). Here repeats are a counter, and cycles are tracked as *runs*: a position ``i``
"matches at distance L" when ``name[i] == name[i - L]``; a cycle of length ``L`` ends at
``n`` exactly when the last ``L`` positions all match at distance ``L``. The only distances
a new call can match are the gaps to the earlier calls of the same tool within the window,
so each call touches a handful of entries, not the window.
"""

from __future__ import annotations

from typing import Hashable, NamedTuple

from ..telemetry import names as tn


class Finding(NamedTuple):
    kind: str
    message: str


class LoopDetector:
    __slots__ = (
        "max_repeats",
        "max_depth",
        "max_cycle",
        "count",
        "names",
        "repeats",
        "recent",
        "run_start",
        "last_match",
        "same_run",
    )

    def __init__(self, max_repeats: int, max_depth: int, max_cycle: int = 10) -> None:
        self.max_repeats = max_repeats
        self.max_depth = max_depth
        self.max_cycle = max_cycle
        self.count = 0
        self.names: list[str] = []
        self.repeats: dict[tuple[str, Hashable], int] = {}
        self.recent: dict[str, list[int]] = {}  # tool -> its positions within the window
        self.run_start: dict[int, int] = {}  # distance L -> first position of the current run
        self.last_match: dict[int, int] = {}  # distance L -> last position that matched at L
        self.same_run = 0  # how many calls in a row, ending now, were of the same tool

    def observe(self, tool: str, key: Hashable) -> Finding | None:
        """Record one call; return what it trips, if anything."""
        n = self.count
        self.count = n + 1
        self.names.append(tool)
        call = (tool, key)
        repeats = self.repeats.get(call, 0) + 1
        self.repeats[call] = repeats
        cycle = self._track_cycles(tool, n)
        if n + 1 > self.max_depth:
            return Finding(tn.LOOP_MAX_DEPTH, f"Execution depth exceeded: {n + 1} > {self.max_depth}")
        if repeats > self.max_repeats:
            return Finding(
                tn.LOOP_REPEAT,
                f"Tool '{tool}' called {repeats} times with same arguments (limit: {self.max_repeats})",
            )
        if cycle is not None:
            return Finding(tn.LOOP_CYCLE, f"Cycle detected: {' -> '.join(cycle)}")
        return None

    def _track_cycles(self, tool: str, n: int) -> list[str] | None:
        window = self.max_cycle
        names = self.names
        self.same_run = self.same_run + 1 if n and names[n - 1] == tool else 1
        if self.same_run > window:
            # A block of <= window calls ending inside such a streak is all one tool: it
            # can't be a cycle, and the streak's start can't match the tool after it.
            return None
        earlier = self.recent.get(tool)
        if not earlier:
            self.recent[tool] = [n]
            return None
        found = 0
        kept = []
        run_start = self.run_start
        last_match = self.last_match
        for pos in earlier:
            distance = n - pos
            if distance < window:
                kept.append(pos)
            if distance < 2 or distance > window:
                continue
            if last_match.get(distance) != n - 1:
                run_start[distance] = n
            last_match[distance] = n
            # A cycle of length L: the last L calls repeat the L before, and are not all
            # the same tool (that is a repeat, not a cycle).
            if n - run_start[distance] + 1 >= distance and self.same_run < distance:
                if not found or distance < found:
                    found = distance
        kept.append(n)
        self.recent[tool] = kept
        return names[n - found + 1 : n + 1] if found else None
