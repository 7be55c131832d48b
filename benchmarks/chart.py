"""The ratio chart: each contender's median over its scenario's floor, log scale."""

from __future__ import annotations

from harness import paired_ratio
from scenarios import Scenario

_COLORS = {"agent_cache": "#1f77b4", "peer": "#9a9a9a", "floor": "#2ca02c"}


def write_chart(scenarios: list[Scenario], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = [sc for sc in scenarios if any(c.ns_per_call for c in sc.cases)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 + 0.32 * sum(
        len(sc.cases) for sc in panels)), squeeze=False)
    for ax, sc in zip(axes[:, 0], panels):
        by = {c.contender: c for c in sc.cases}
        floor = by.get(sc.floor)
        names, ratios, colors = [], [], []
        for c in sc.cases:
            r = paired_ratio(c, floor)
            if r is None:
                continue
            names.append(c.contender)
            ratios.append(r)
            colors.append(_COLORS.get(c.family, "#999"))
        ax.barh(names, ratios, color=colors)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_title(f"{sc.key}: ratio to {sc.floor} (lower is better)", fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        for y, r in enumerate(ratios):
            ax.text(r, y, f" {r:.2f}×", va="center", fontsize=7)
    axes[-1, 0].set_xlabel("median time / floor's median time (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
