"""How far a learner is towards an achievement: every threshold, and the one furthest from holding."""

from __future__ import annotations

from typing import Any

import pytest

from hub.rules.achievements import LearnerStats, RequirementProgress, headline, progress, requirements_met

STATS = LearnerStats(lessons_completed=3, total_xp=200, streak_days=1, level=1, posts_created=0,
                     sessions_attended=2)


def test_a_single_threshold_reads_value_of_target() -> None:
    steps = progress({"lessons_completed": 5}, STATS)
    assert steps == [RequirementProgress("lessons_completed", 3, 5)]
    assert headline(steps) == (3, 5)


def test_the_headline_is_the_threshold_furthest_from_holding() -> None:
    steps = progress({"total_xp": 1000, "lessons_completed": 4}, STATS)
    assert [s.key for s in steps] == ["lessons_completed", "total_xp"]
    assert headline(steps) == (200, 1000)


def test_a_met_requirement_reads_target_of_target() -> None:
    steps = progress({"sessions_attended": 1, "lessons_completed": 2}, STATS)
    assert requirements_met({"sessions_attended": 1, "lessons_completed": 2}, STATS)
    assert headline(steps) == (2, 2), "the first of equals, by stat name"


@pytest.mark.parametrize("requirements", [None, {}, [], "x", {"lesson_completed": 1}, {"total_xp": True},
                                          {"total_xp": 1.5}, {"total_xp": 10, "nope": 1}])
def test_requirements_that_can_never_hold_have_no_progress(requirements: Any) -> None:
    assert progress(requirements, STATS) == []
    assert headline(progress(requirements, STATS)) is None


def test_a_zero_or_negative_threshold_is_already_reached() -> None:
    assert headline(progress({"posts_created": 0}, STATS)) == (0, 0)
    assert headline(progress({"posts_created": -3}, STATS)) == (0, 0)
