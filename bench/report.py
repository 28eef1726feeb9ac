"""Rows, ratios, the printed table, the markdown results file and the latency plot.

Every row compares the hub (the subject) with a baseline measured in the same run:
ratio = hub ÷ baseline. A row says which way is better and, where the issue sets one, its goal.
A row whose subject could not run says why in `subject` and has no ratio.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.stats import BUCKETS, Histogram, bucket_middle_ms

COLUMNS = ("scenario", "measure", "hub", "baseline", "baseline value", "ratio", "goal", "notes")


@dataclass
class Row:
    scenario: str
    measure: str
    unit: str
    value: float | None  # the hub's number; None when the hub could not run
    baseline: str
    baseline_value: float | None
    higher_is_better: bool = True
    goal: float | None = None  # a ratio bound: ≥ goal when higher is better, ≤ goal otherwise
    goal_text: str = ""
    notes: str = ""
    unavailable: str = ""  # why `value` is missing

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def goal_met(self) -> bool | None:
        if self.goal is None or self.ratio is None:
            return None
        return self.ratio >= self.goal if self.higher_is_better else self.ratio <= self.goal

    def cells(self) -> tuple[str, ...]:
        hub = f"{fmt(self.value)} {self.unit}" if self.value is not None else f"not available ({self.unavailable})"
        base = f"{fmt(self.baseline_value)} {self.unit}" if self.baseline_value is not None else "n/a"
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "n/a"
        goal = self.goal_text or ("" if self.goal is None else (("≥ " if self.higher_is_better else "≤ ")
                                                                 + f"{self.goal:g}×"))
        met = self.goal_met
        if goal and met is not None:
            goal += " ✓" if met else " ✗"
        direction = "higher is better" if self.higher_is_better else "lower is better"
        notes = f"{direction}; {self.notes}" if self.notes else direction
        return (self.scenario, self.measure, hub, self.baseline, base, ratio, goal, notes)


def skipped(scenario: str, measure: str, baseline: str, reason: str) -> Row:
    """A row for something that could not be measured in this run, with the reason."""
    return Row(scenario, measure, "", None, baseline, None, notes=f"skipped: {reason}", unavailable="skipped")


def fmt(number: float | None) -> str:
    if number is None or math.isnan(number):
        return "n/a"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    if abs(number) >= 10:
        return f"{number:.1f}"
    return f"{number:.2f}"


def table(rows: list[Row]) -> str:
    """A markdown table (also what the terminal shows)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines.extend("| " + " | ".join(cell.replace("|", "/") for cell in row.cells()) + " |" for row in rows)
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = os.cpu_count() or 0
    try:
        load = ", load average at start {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = ""
    return (f"{cpu}, {cores} cores{memory}{load}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


@dataclass
class Report:
    size: str
    started: datetime
    machine: str
    rows: list[Row] = field(default_factory=list)
    latencies: dict[str, Histogram] = field(default_factory=dict)  # label → distribution, for the plot
    notes: list[str] = field(default_factory=list)

    def markdown(self, plot_name: str | None) -> str:
        parts = [f"# Benchmark results, {self.started:%Y-%m-%d %H:%M}", "",
                 f"- size: `{self.size}` (`python -m bench all --size {self.size}`)",
                 f"- machine: {self.machine}",
                 "- every ratio is hub ÷ baseline, both measured in this run with the same load client", ""]
        parts.extend(f"- note: {note}" for note in self.notes)
        parts += ["", table(self.rows), ""]
        if plot_name:
            parts += [f"![latency distributions]({plot_name})", ""]
        return "\n".join(parts)

    def write(self, folder: Path) -> tuple[Path, Path | None]:
        """Writes `<date>.md` (and `<date>.png` when matplotlib is installed) into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.started:%Y-%m-%d}"
        plot = plot_latencies(self.latencies, folder / f"{stem}.png")
        path = folder / f"{stem}.md"
        path.write_text(self.markdown(plot.name if plot else None))
        return path, plot


def plot_latencies(latencies: dict[str, Histogram], path: Path) -> Path | None:
    """Cumulative latency distributions on a log axis; None (with the reason printed by the caller's
    note) when matplotlib is missing or there is nothing to plot."""
    if not any(h.total for h in latencies.values()):
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib not installed (pip install -e '.[bench]'): no PNG plot")
        return None
    figure, axes = plt.subplots(figsize=(10, 6))
    for label, histogram in latencies.items():
        if not histogram.total:
            continue
        xs, ys, seen = [], [], 0
        for index in range(BUCKETS):
            if histogram.counts[index]:
                seen += histogram.counts[index]
                xs.append(bucket_middle_ms(index))
                ys.append(seen / histogram.total)
        axes.step(xs, ys, where="post", label=label)
    axes.set_xscale("log")
    axes.set_xlabel("latency, ms (commit or publish → receipt)")
    axes.set_ylabel("fraction of deliveries")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
