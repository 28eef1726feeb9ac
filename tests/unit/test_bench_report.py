"""How the benchmark table folds repeated runs: a ratio per repetition, the median shown with its spread."""

from __future__ import annotations

from bench.report import Row, merge_runs, raw_runs


def run(value: float, baseline: float, notes: str = "") -> Row:
    return Row("1 fan-out", "max rate", "/s", value, "websockets.broadcast", baseline, goal=1.0, notes=notes)


def test_the_ratio_is_the_median_of_per_repetition_ratios_not_the_ratio_of_medians() -> None:
    # per-repetition ratios 2.0, 0.5 and 3.0 (median 2.0); the medians of the values (100 and 100) would say 1.0
    (row,) = merge_runs([[run(100, 50)], [run(100, 200)], [run(300, 100)]])
    assert row.ratio == 2.0
    assert row.value == 100 and row.baseline_value == 100
    assert row.cells()[5] == "2.00× (0.50–3.00)"
    assert row.goal_met is True


def test_the_notes_come_from_the_repetition_nearest_the_median_and_every_run_is_kept() -> None:
    (row,) = merge_runs([[run(100, 100, "a")], [run(150, 100, "b")], [run(400, 100, "c")]])
    assert row.ratio == 1.5
    assert row.notes == "run 2: b"
    assert len(row.runs) == 3
    raw = raw_runs([row])
    assert "| max rate | websockets.broadcast | 3/3 | 400 /s |" in raw


def test_a_row_measured_once_is_left_as_it_is() -> None:
    single = run(120, 100)
    assert merge_runs([[single]]) == [single]
    assert single.cells()[5] == "1.20×"


def test_a_repetition_without_a_hub_value_does_not_count_towards_the_median() -> None:
    missing = Row("1 fan-out", "max rate", "/s", None, "websockets.broadcast", 100.0, unavailable="crashed")
    (row,) = merge_runs([[run(300, 100)], [missing], [run(100, 100)]])
    assert row.ratios == [3.0, 1.0]
    assert row.ratio == 2.0
