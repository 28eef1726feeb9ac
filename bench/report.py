"""Rows, ratios, the printed table, the markdown results file and the latency plot.

Every row compares the hub (the subject) with a baseline measured in the same run:
ratio = hub ÷ baseline. A row says which way is better and, where the issue sets one, its goal.
A row whose subject could not run says why in `subject` and has no ratio.

A scenario runs several times (`--repeat`); `merge_runs` folds its repetitions into one row per measure
whose ratio is the median of the per-repetition ratios (hub_k ÷ baseline_k), shown with their min-max,
and which keeps every repetition's row for the results file's raw section.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass, field, replace
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
    limit: float | None = None  # a bound on the hub's own value (same direction as `goal`), named in goal_text
    runs: list[Row] = field(default_factory=list)  # every repetition's row, when the scenario ran more than once

    @property
    def run_ratio(self) -> float | None:
        """hub ÷ baseline of this row's own values."""
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def ratios(self) -> list[float]:
        """The per-repetition ratios (this row's own when it was measured once)."""
        rows = self.runs or [self]
        return [ratio for ratio in (row.run_ratio for row in rows) if ratio is not None]

    @property
    def ratio(self) -> float | None:
        """The median of the per-repetition ratios."""
        ratios = self.ratios
        return statistics.median(ratios) if ratios else None

    @property
    def goal_met(self) -> bool | None:
        if self.limit is not None:
            if self.value is None:
                return None
            return self.value >= self.limit if self.higher_is_better else self.value <= self.limit
        if self.goal is None or self.ratio is None:
            return None
        return self.ratio >= self.goal if self.higher_is_better else self.ratio <= self.goal

    def cells(self) -> tuple[str, ...]:
        hub = f"{fmt(self.value)} {self.unit}" if self.value is not None else f"not available ({self.unavailable})"
        base = f"{fmt(self.baseline_value)} {self.unit}" if self.baseline_value is not None else "n/a"
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "n/a"
        if len(self.ratios) > 1:
            ratio += f" ({min(self.ratios):.2f}–{max(self.ratios):.2f})"
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


def merge_runs(repetitions: list[list[Row]]) -> list[Row]:
    """One row per (scenario, measure, baseline) over a scenario's repetitions, in first-seen order. A row
    measured once stays as it is. Otherwise hub and baseline values are the medians of the repetitions that
    measured them, the ratio (a property) the median of the per-repetition ratios, and the notes those of
    the repetition whose ratio is nearest that median; `runs` keeps every repetition's row."""
    grouped: dict[tuple[str, str, str], list[Row]] = {}
    for rows in repetitions:
        for row in rows:
            grouped.setdefault((row.scenario, row.measure, row.baseline), []).append(row)
    merged: list[Row] = []
    for runs in grouped.values():
        if len(runs) == 1:
            merged.append(runs[0])
            continue
        measured = [row for row in runs if row.run_ratio is not None]
        if not measured:
            merged.append(replace(runs[-1], runs=runs))
            continue
        middle = statistics.median(row.run_ratio or 0.0 for row in measured)
        typical = min(measured, key=lambda row: abs((row.run_ratio or 0.0) - middle))
        merged.append(replace(
            typical, runs=runs,
            value=statistics.median(row.value for row in measured if row.value is not None),
            baseline_value=statistics.median(row.baseline_value for row in measured if row.baseline_value is not None),
            notes=f"run {runs.index(typical) + 1}: {typical.notes}" if typical.notes else ""))
    return merged


def raw_runs(rows: list[Row]) -> str:
    """The results file's raw section: per scenario, every repetition of every repeated row."""
    columns = ("measure", "baseline", "run", "hub", "baseline value", "ratio", "notes")
    parts: list[str] = []
    for scenario in dict.fromkeys(row.scenario for row in rows if row.runs):
        parts += [f"### {scenario}", "", "| " + " | ".join(columns) + " |",
                  "|" + "|".join("---" for _ in columns) + "|"]
        for row in rows:
            if row.scenario != scenario:
                continue
            for number, run in enumerate(row.runs, 1):
                _, _, hub, _, base, ratio, _, notes = run.cells()
                cells = (row.measure, row.baseline, f"{number}/{len(row.runs)}", hub, base, ratio, notes)
                parts.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
        parts.append("")
    return "\n".join(parts)


def merge_latencies(into: dict[str, Histogram], more: dict[str, Histogram]) -> None:
    """Adds one repetition's latency distributions to the run's (the plot shows all repetitions)."""
    for label, histogram in more.items():
        if label in into:
            into[label].merge(histogram)
        else:
            into[label] = histogram


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
    repeat: int = 1
    rows: list[Row] = field(default_factory=list)
    latencies: dict[str, Histogram] = field(default_factory=dict)  # label → distribution, for the plot
    notes: list[str] = field(default_factory=list)

    def markdown(self, plot_name: str | None) -> str:
        parts = [f"# Benchmark results, {self.started:%Y-%m-%d %H:%M}", "",
                 f"- size: `{self.size}` (`python -m bench all --size {self.size}`)",
                 f"- machine: {self.machine}",
                 f"- repetitions: {self.repeat} per scenario (`--repeat {self.repeat}`), hub and baselines "
                 "interleaved within each",
                 "- every ratio is hub ÷ baseline, both measured in this run with the same load client; when "
                 "repeated, the median of the per-repetition ratios with their min–max in brackets, and hub and "
                 "baseline values are the medians of theirs", ""]
        parts.extend(f"- note: {note}" for note in dict.fromkeys(self.notes))
        parts += ["", table(self.rows), ""]
        if plot_name:
            parts += [f"![latency distributions]({plot_name})", ""]
        raw = raw_runs(self.rows)
        if raw:
            parts += ["## Raw runs", "", "Every repetition's own values, in the order they ran.", "", raw]
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
