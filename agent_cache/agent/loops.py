"""A session's call log: the tool-call trace and loop detection, in O(1) amortised per call.

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

from collections import OrderedDict, deque
from collections.abc import Hashable
from itertools import islice
from typing import NamedTuple

from ..telemetry import names as tn


class Finding(NamedTuple):
    """A loop: its ``kind``, a ``message`` for the developer and one for the model."""

    kind: str
    message: str
    for_model: str = ""


class CallLog:
    """Every tool call of one session, and the loop checks run on each."""

    __slots__ = (
        "detect",
        "max_repeats",
        "max_depth",
        "max_cycle",
        "count",
        "trace",
        "trace_limit",
        "last_tool",
        "repeats",
        "recent",
        "run_start",
        "last_match",
        "same_run",
    )

    def __init__(
        self, detect: bool, max_repeats: int, max_depth: int, max_cycle: int, trace_limit: int
    ) -> None:
        self.detect = detect
        self.max_repeats = max_repeats
        self.max_depth = max_depth
        self.max_cycle = max_cycle
        self.count = 0
        self.trace_limit = trace_limit
        # Cycle checks read the last `max_cycle` calls from here, so keep at least those.
        self.trace: deque[tuple[str, Hashable]] = deque(maxlen=max(trace_limit, max_cycle))
        self.last_tool: str | None = None
        # call -> [count]: a mutable cell, so each call hashes its (tool, key) once. Bounded
        # (oldest distinct call forgotten first) so a long session that never repeats itself
        # cannot grow it without limit; it never holds fewer than the trace does.
        self.repeats: OrderedDict[tuple[str, Hashable], list[int]] = OrderedDict()
        self.recent: dict[str, list[int]] = {}  # tool -> its positions within the window
        self.run_start: dict[int, int] = {}  # distance L -> first position of the current run
        self.last_match: dict[int, int] = {}  # distance L -> last position that matched at L
        self.same_run = 0  # how many calls in a row, ending now, were of the same tool

    def record(self, tool: str, key: Hashable) -> Finding | None:
        """Log one call; return the loop it closes, if any (only when detection is on)."""
        n = self.count
        self.count = n + 1
        call = (tool, key)
        self.trace.append(call)
        if not self.detect:
            return None
        previous = self.last_tool
        self.last_tool = tool
        repeats_by_call = self.repeats
        counter = repeats_by_call.get(call)
        if counter is None:
            counter = repeats_by_call[call] = [0]
            if len(repeats_by_call) > self.trace_limit:
                repeats_by_call.popitem(last=False)
        counter[0] += 1
        repeats = counter[0]
        # Cycle bookkeeping runs on every call, even one that trips another check.
        if previous == tool and self.same_run >= self.max_cycle:
            self.same_run += 1  # deep in a one-tool streak: no cycle can end here
            cycle = None
        else:
            if previous != tool and self.same_run > self.max_cycle:
                # The streak whose bookkeeping we skipped just ended: its last `window`
                # positions are all `previous`, which is all later checks can look at.
                # (same_run > max_cycle >= 0 means earlier calls: previous is not None)
                self.recent[previous] = list(range(n - self.max_cycle, n))  # type: ignore[index]
            self.same_run = self.same_run + 1 if previous == tool else 1
            cycle = self._track_cycles(tool, n)
        if n + 1 > self.max_depth:
            return Finding(
                tn.LOOP_MAX_DEPTH,
                f"Execution depth exceeded: {n + 1} > {self.max_depth}",
                f"you have made {n + 1} tool calls in this conversation, more than the {self.max_depth} "
                "allowed; stop calling tools and answer with what you have",
            )
        if repeats > self.max_repeats:
            return Finding(
                tn.LOOP_REPEAT,
                f"Tool '{tool}' called {repeats} times with same arguments (limit: {self.max_repeats})",
                f"you called {tool} with the same arguments {repeats} times; stop repeating it and "
                "use the result you already have",
            )
        if cycle is not None:
            path = " -> ".join(cycle)
            return Finding(
                tn.LOOP_CYCLE,
                f"Cycle detected: {path}",
                f"you are calling {path} over and over; stop the cycle and answer with what you have",
            )
        return None

    def _track_cycles(self, tool: str, n: int) -> list[str] | None:
        window = self.max_cycle
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
            if (
                n - run_start[distance] + 1 >= distance
                and self.same_run < distance
                and (not found or distance < found)
            ):
                found = distance
        kept.append(n)
        self.recent[tool] = kept
        if not found:
            return None
        block = [name for name, _ in islice(reversed(self.trace), found)]
        block.reverse()
        return block
