"""The statistics chart: a PNG with the stage funnel and the time spent in each stage.

Rendered with matplotlib's Agg backend through the object API (no pyplot state, so renders
in worker threads do not share figures). Labels are ASCII and numbers only: servers seldom
have a CJK font, and the card next to the chart carries the same figures in words.
"""

from __future__ import annotations

import io
from typing import Any

FUNNEL_LABELS = {
    "submitted": "Referred", "hr_passed": "HR passed", "interviewing": "Interviewed",
    "offer": "Offer", "hired": "Hired",
}
STAGE_LABELS = {
    "hr_review": "HR review", "needs_info": "More info", "leader_approval": "Leader approval",
    "interviewing": "Interviews", "feedback": "Manager feedback", "offer": "Offer to start",
}
_BLUE, _ORANGE, _GREY = "#2f6fd0", "#f08c2e", "#9aa5b1"


def render_chart(view: dict[str, Any]) -> bytes:
    """PNG bytes for a statistics view (``handlers.insight.stats.build_stats``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.4), dpi=100)
    FigureCanvasAgg(figure)
    funnel_ax, stage_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    _funnel(funnel_ax, view["funnel"])
    _stages(stage_ax, view["stages"])
    since = view["since"].strftime("%Y-%m-%d") if view.get("since") else "start"
    until = view["until"].strftime("%Y-%m-%d") if view.get("until") else "now"
    rate = "" if view["hire_rate"] is None else f" ({view['hire_rate']}%)"
    figure.suptitle(
        f"Referrals {view['total']}   Hired {view['hired']}{rate}   {since} .. {until}",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _funnel(ax: Any, steps: list[dict[str, Any]]) -> None:
    from matplotlib.ticker import MaxNLocator

    labels = [FUNNEL_LABELS.get(s["stage"], s["stage"]) for s in steps]
    counts = [s["n"] for s in steps]
    y = list(range(len(steps)))[::-1]
    ax.barh(y, counts, color=_BLUE)
    ax.set_yticks(y, labels)
    ax.set_title("Funnel (share of previous step)", fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # people come in whole numbers
    top = max(counts, default=0) or 1
    ax.set_xlim(0, top * 1.35)
    for yi, step in zip(y, steps, strict=True):
        rate = "" if step["rate"] is None or step["stage"] == "submitted" else f"  {step['rate']}%"
        ax.text(step["n"] + top * 0.02, yi, f"{step['n']}{rate}", va="center", fontsize=9)
    ax.tick_params(labelsize=9)


def _stages(ax: Any, stages: list[dict[str, Any]]) -> None:
    if not stages:
        ax.text(0.5, 0.5, "No finished stages yet", ha="center", va="center", color=_GREY)
        ax.set_axis_off()
        return
    # Days when anything takes more than two days at p90, else hours: bars stay readable.
    in_days = max(s["p90_h"] for s in stages) > 48
    scale, unit = (24.0, "days") if in_days else (1.0, "hours")
    labels = [STAGE_LABELS.get(s["stage"], s["stage"]) for s in stages]
    y = list(range(len(stages)))[::-1]
    p50 = [s["p50_h"] / scale for s in stages]
    p90 = [s["p90_h"] / scale for s in stages]
    ax.barh([v + 0.2 for v in y], p50, height=0.4, color=_BLUE, label="median")
    ax.barh([v - 0.2 for v in y], p90, height=0.4, color=_ORANGE, label="p90")
    ax.set_yticks(y, labels)
    ax.set_title(f"Time in stage ({unit})", fontsize=10)
    # Under the axis, where it can never cover a bar.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2,
              frameon=False)
    top = max(p90, default=0) or 1
    ax.set_xlim(0, top * 1.3)
    for yi, a, b in zip(y, p50, p90, strict=True):
        ax.text(a + top * 0.02, yi + 0.2, f"{a:.1f}", va="center", fontsize=8)
        ax.text(b + top * 0.02, yi - 0.2, f"{b:.1f}", va="center", fontsize=8)
    ax.tick_params(labelsize=9)
