"""Achievement requirements: a JSON object over a small vocabulary, all of whose thresholds must hold.

`{"lessons_completed": 5}`, `{"total_xp": 1000, "streak_days": 3}`, … Each key names a learner stat
and each value is the minimum it must reach. A requirement that is missing, empty, not an object,
uses a key outside the vocabulary or a threshold that is not a whole number never holds: a typo in
the catalogue must not hand the achievement to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class LearnerStats:
    lessons_completed: int = 0
    total_xp: int = 0
    streak_days: int = 0
    level: int = 1
    posts_created: int = 0
    sessions_attended: int = 0


REQUIREMENT_KEYS = frozenset(f.name for f in fields(LearnerStats))


def requirements_met(requirements: Any, stats: LearnerStats) -> bool:
    if not isinstance(requirements, dict) or not requirements:
        return False
    for key, threshold in requirements.items():
        if key not in REQUIREMENT_KEYS or isinstance(threshold, bool) or not isinstance(threshold, int):
            return False
        if getattr(stats, key) < threshold:
            return False
    return True


def due(candidates: Iterable[tuple[K, Any]], stats: LearnerStats) -> list[K]:
    """The keys of the `(key, requirements)` candidates whose requirements hold, in the given order."""
    return [key for key, requirements in candidates if requirements_met(requirements, stats)]


@dataclass(frozen=True, slots=True)
class RequirementProgress:
    """One threshold of a requirement: the learner's `value` of the stat `key` towards `target`."""

    key: str
    value: int
    target: int


def progress(requirements: Any, stats: LearnerStats) -> list[RequirementProgress]:
    """Every threshold of a well-formed requirement with the learner's value, by stat name (a JSON
    object's key order is not kept by jsonb); empty for one that can never hold (as `requirements_met`)."""
    if not isinstance(requirements, dict) or not requirements:
        return []
    steps: list[RequirementProgress] = []
    for key, threshold in sorted(requirements.items()):
        if key not in REQUIREMENT_KEYS or isinstance(threshold, bool) or not isinstance(threshold, int):
            return []
        steps.append(RequirementProgress(key, getattr(stats, key), threshold))
    return steps


def headline(steps: list[RequirementProgress]) -> tuple[int, int] | None:
    """`(progress_value, target)` of the threshold furthest from holding (the first of equals): "3 of 5"
    for `{"lessons_completed": 5}` after three lessons. The value is capped at the target, so a met
    requirement reads `target of target`. None when there is nothing to reach."""
    if not steps:
        return None

    def share(step: RequirementProgress) -> float:
        return 1.0 if step.target <= 0 else min(step.value / step.target, 1.0)

    furthest = min(steps, key=share)
    target = max(furthest.target, 0)
    return max(min(furthest.value, target), 0), target
