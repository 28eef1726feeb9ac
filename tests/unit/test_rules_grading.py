"""Grading rules: the assessment shape an admin may save, and scoring answers against it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.rules.grading import assessment_errors, grade, pass_score_of, questions_of
from persistence.seed import LESSONS, _assessment

SINGLE = {"q": "2 + 2?", "choices": ["3", "4", "5"], "answer": 1, "explanation": "add"}
MULTIPLE = {"q": "Even?", "choices": ["1", "2", "3", "4"], "answer": [1, 3], "explanation": "2 and 4"}
NUMERIC = {"q": "Pi?", "answer": 3.14, "tolerance": 0.01, "explanation": "about 3.14"}
QUIZ = {"questions": [SINGLE, MULTIPLE, NUMERIC]}


def test_every_seed_lesson_has_a_valid_gradeable_assessment() -> None:
    for _, _, title, _, _ in LESSONS:
        assessment = _assessment(title)
        assert assessment_errors(assessment) is None
        assert questions_of(assessment)


@pytest.mark.parametrize("assessment", [
    None, {}, {"questions": []}, QUIZ, {"pass_score": 0, "questions": [SINGLE]}, {"pass_score": 100},
    {"questions": [{"q": "n?", "answer": -2}]},
    {"questions": [{"q": "seed shape", "choices": ["y", "n"], "answer": 0}]},
])
def test_the_documented_shapes_are_accepted(assessment: Any) -> None:
    assert assessment_errors(assessment) is None


@pytest.mark.parametrize(("assessment", "says"), [
    ([SINGLE], "must be an object"),
    ({"quiz": [1]}, "unknown keys quiz"),
    ({"pass_score": 101, "questions": []}, "pass_score"),
    ({"pass_score": True, "questions": []}, "pass_score"),
    ({"questions": "q"}, "questions must be a list"),
    ({"questions": [SINGLE] * 101}, "at most 100"),
    ({"questions": ["q"]}, "questions[0]: must be an object"),
    ({"questions": [{**SINGLE, "solution": 1}]}, "unknown keys solution"),
    ({"questions": [{**SINGLE, "q": " "}]}, "q must be non-empty"),
    ({"questions": [{**SINGLE, "answer": 3}]}, "index of a choice"),
    ({"questions": [{**SINGLE, "answer": True}]}, "index of a choice"),
    ({"questions": [{**SINGLE, "answer": 1.0}]}, "index of a choice"),
    ({"questions": [{**MULTIPLE, "answer": []}]}, "non-empty list"),
    ({"questions": [{**MULTIPLE, "answer": [1, 1]}]}, "repeat"),
    ({"questions": [{**SINGLE, "choices": ["only"]}]}, "choices must be"),
    ({"questions": [{**SINGLE, "choices": ["a", 2]}]}, "every choice"),
    ({"questions": [{**SINGLE, "tolerance": 1}]}, "tolerance only applies"),
    ({"questions": [{**NUMERIC, "answer": "3.14"}]}, "must be a number"),
    ({"questions": [{**NUMERIC, "tolerance": -1}]}, "tolerance must be"),
    ({"questions": [{**NUMERIC, "explanation": 5}]}, "explanation must be"),
    ({"questions": [SINGLE, {"q": "?"}]}, "questions[1]: answer must be a number"),
])
def test_malformed_assessments_are_refused_saying_where(assessment: Any, says: str) -> None:
    problem = assessment_errors(assessment)
    assert problem is not None and says in problem


def test_all_right_passes_with_explanations() -> None:
    graded = grade(QUIZ, [1, [3, 1], 3.145])
    assert (graded.score, graded.passed) == (100, True)
    assert [(r.question, r.correct, r.explanation) for r in graded.results] == [
        (0, True, "add"), (1, True, "2 and 4"), (2, True, "about 3.14")]


def test_a_failed_attempt_tells_which_were_right_but_never_explains() -> None:
    graded = grade(QUIZ, [1, [1], None])
    assert (graded.score, graded.passed) == (33, False)
    assert [(r.correct, r.explanation) for r in graded.results] == [(True, None), (False, None), (False, None)]


@pytest.mark.parametrize(("question", "answer", "right"), [
    (SINGLE, 1, True), (SINGLE, 2, False), (SINGLE, [1], False), (SINGLE, 1.0, False), (SINGLE, None, False),
    (MULTIPLE, [1, 3], True), (MULTIPLE, [3, 1], True), (MULTIPLE, [1], False), (MULTIPLE, [1, 3, 0], False),
    (MULTIPLE, [1, 3, 3], False), (MULTIPLE, 1, False),
    (NUMERIC, 3.15, True), (NUMERIC, 3.13, True), (NUMERIC, 3.16, False), (NUMERIC, 3, False), (NUMERIC, [3], False),
    ({"q": "0.1 + 0.2?", "answer": 0.3}, 0.1 + 0.2, True), ({"q": "n", "answer": 7}, 7, True),
    ({"q": "n", "answer": 7}, 7.5, False),
])
def test_each_kind_of_question_is_graded_by_its_rule(question: dict[str, Any], answer: Any, right: bool) -> None:
    assert grade({"questions": [question]}, [answer]).results[0].correct is right


@pytest.mark.parametrize("broken", [
    {"q": "no key", "choices": ["a", "b"]}, {"q": "bad key", "choices": ["a", "b"], "answer": "a"},
    {"q": "bad list", "choices": ["a", "b"], "answer": ["a"]}, {"q": "bad tolerance", "answer": 1, "tolerance": "x"},
    "not a question",
])
def test_a_stored_malformed_question_is_never_answered_right(broken: Any) -> None:
    for answer in (None, 0, [0], 1, "a"):
        assert grade({"questions": [broken]}, [answer]).results[0].correct is False


def test_the_pass_mark_defaults_to_70_and_is_inclusive() -> None:
    ten = {"questions": [{"q": str(n), "answer": n} for n in range(10)]}
    assert pass_score_of(ten) == 70 and pass_score_of({"pass_score": "x"}) == 70
    assert grade(ten, [*range(7), None, None, None]).passed is True
    assert grade(ten, [*range(6), None, None, None, None]).passed is False
    assert grade({**ten, "pass_score": 0}, [None] * 10).passed is True
