"""Reading the figures the demo's summary prints, and the invariants they must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass

SUMMARY_HEADER = "== agent_cache demo: summary =="
_FIGURE = re.compile(r"^(?P<label>[a-z][a-z ]*?)\s{2,}(?P<value>\d+(?:\.\d+)?)(?P<rest>.*)$")
_WITH_WITHOUT = re.compile(r"(\d+) with agent_cache, (\d+) without")


@dataclass
class Summary:
    """The figures of one printed summary, by label (``figures['hits']``)."""

    text: str
    figures: dict[str, float]
    rest: dict[str, str]

    def pair(self, label: str) -> tuple[int, int]:
        """``(with agent_cache, without)`` from a line like ``db queries  12 with ..., 30 without``."""
        m = _WITH_WITHOUT.search(f"{self.figures[label]:g}{self.rest[label]}")
        assert m, f"no with/without pair on the {label!r} line"
        return int(m.group(1)), int(m.group(2))


def parse_summary(output: str) -> Summary:
    """Read the ``label  number ...`` lines of the summary block of the demo's output."""
    assert SUMMARY_HEADER in output, output[-2000:]
    block = output.split(SUMMARY_HEADER, 1)[1].strip("\n").split("\n\n", 1)[0]
    figures, rest = {}, {}
    for line in block.splitlines():
        m = _FIGURE.match(line)
        if m:
            figures[m["label"]] = float(m["value"])
            rest[m["label"]] = m["rest"]
    return Summary(output, figures, rest)


def check_consistent(s: Summary, *, loop_rate: float) -> None:
    """The invariants every run's figures must satisfy."""
    f = s.figures
    # each lookup has one result: a hit, a miss (the library's misses count every lookup
    # without a value, coalesced waiters included) or a stale answer (an expired value);
    # the agents' reads refused by loop detection never reach the cache, and mutations are
    # not reads, so short circuits and bypasses are not among these requests
    assert f["hits"] + f["misses"] + f["stale"] == f["requests"], s.text
    assert f["coalesced"] <= f["misses"]
    assert f["loads avoided"] == f["hits"] + f["coalesced"]
    assert f["requests"] > 0 and f["hits"] > 0 and f["misses"] > 0
    ratio = 100.0 * f["hits"] / f["requests"]
    assert abs(f["hit ratio"] - ratio) < 0.06
    if loop_rate > 0:
        assert f["loops caught"] > 0, s.text
    else:
        assert f["loops caught"] == 0, s.text
    with_cache, without = s.pair("db queries")
    assert 0 < with_cache < without, s.text
    calls_with, calls_without = s.pair("tool calls")
    assert calls_with <= calls_without
    assert "WARNING" not in s.text
