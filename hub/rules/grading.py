"""Assessments: their documented shape, and grading a learner's answers against one.

An assessment is `{"pass_score"?: 0 to 100 (default 70), "questions": [question, …]}`, each question
`{"q": text, "choices"?: [text, …], "answer": …, "tolerance"?: number ≥ 0, "explanation"?: text}`:

- single choice: `choices` and `answer` one index into them;
- multiple answers: `choices` and `answer` a list of distinct indices (all of them, and only them, are right);
- numeric: no `choices`, `answer` a number; a reply within `tolerance` (default 0) of it is right.

`assessment_errors` checks an admin's assessment against that shape (the API refuses it with 422; the
column stays free-form JSON, so a row written in SQL may still be anything). Grading never trusts the
stored shape: a question whose answer key is malformed is one nobody answers right, so a broken key
never completes a lesson for everyone. A null assessment, or one without questions, is no assessment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

DEFAULT_PASS_SCORE = 70
MAX_QUESTIONS = 100
MAX_CHOICES = 20
MAX_QUESTION_CHARS = 2000
MAX_CHOICE_CHARS = 500
MAX_EXPLANATION_CHARS = 5000
MAX_NUMBER = 1e15
QUESTION_KEYS = frozenset({"q", "choices", "answer", "tolerance", "explanation"})
ASSESSMENT_KEYS = frozenset({"pass_score", "questions"})
# Floating point cannot hold most decimals: 0.1 + 0.2 must still be right for an answer of 0.3.
_FLOAT_SLACK = 1e-9

Answer = int | float | list[int] | None


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: int  # its index in `questions`
    correct: bool
    explanation: str | None  # only once the attempt passed: before, it could give the answer away


@dataclass(frozen=True, slots=True)
class Graded:
    score: int  # percent of the questions answered right, rounded down
    passed: bool
    results: list[QuestionResult]


def _is_whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return (_is_whole(value) or isinstance(value, float)) and math.isfinite(value) and abs(value) <= MAX_NUMBER


def questions_of(assessment: Any) -> list[Any]:
    """The questions of a stored assessment; empty when it has none (then the lesson has no assessment)."""
    if not isinstance(assessment, dict):
        return []
    questions = assessment.get("questions")
    return questions if isinstance(questions, list) else []


def pass_score_of(assessment: Any) -> int:
    score = assessment.get("pass_score") if isinstance(assessment, dict) else None
    return score if _is_whole(score) and 0 <= score <= 100 else DEFAULT_PASS_SCORE


def _text_error(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be non-empty text"
    return f"must be at most {limit} characters" if len(value) > limit else None


def _question_errors(question: Any) -> str | None:
    if not isinstance(question, dict):
        return "must be an object"
    unknown = sorted(set(question) - QUESTION_KEYS)
    if unknown:
        return f"unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(QUESTION_KEYS))})"
    problem = _text_error(question.get("q"), MAX_QUESTION_CHARS)
    if problem:
        return f"q {problem}"
    if "explanation" in question and (problem := _text_error(question["explanation"], MAX_EXPLANATION_CHARS)):
        return f"explanation {problem}"
    answer = question.get("answer")
    if "choices" not in question:
        if not _is_number(answer):
            return "answer must be a number when there are no choices"
        tolerance = question.get("tolerance", 0)
        if not _is_number(tolerance) or tolerance < 0:
            return "tolerance must be a number ≥ 0"
        return None
    if "tolerance" in question:
        return "tolerance only applies to numeric questions (no choices)"
    choices = question["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES:
        return f"choices must be a list of 2 to {MAX_CHOICES} texts"
    for choice in choices:
        if problem := _text_error(choice, MAX_CHOICE_CHARS):
            return f"every choice {problem}"
    indices = answer if isinstance(answer, list) else [answer]
    if not indices or not all(_is_whole(i) and 0 <= i < len(choices) for i in indices):
        return "answer must be the index of a choice, or a non-empty list of them"
    if len(set(indices)) != len(indices):
        return "answer must not repeat an index"
    return None


def assessment_errors(assessment: Any) -> str | None:
    """What is wrong with an admin's assessment, or None when it has the documented shape (null, `{}` and
    `{"questions": []}` are fine: no assessment)."""
    if assessment is None:
        return None
    if not isinstance(assessment, dict):
        return "must be an object {pass_score?, questions}"
    unknown = sorted(set(assessment) - ASSESSMENT_KEYS)
    if unknown:
        return f"unknown keys {', '.join(unknown)} (allowed: pass_score, questions)"
    pass_score = assessment.get("pass_score", DEFAULT_PASS_SCORE)
    if not _is_whole(pass_score) or not 0 <= pass_score <= 100:
        return "pass_score must be a whole number from 0 to 100"
    questions = assessment.get("questions", [])
    if not isinstance(questions, list) or len(questions) > MAX_QUESTIONS:
        return f"questions must be a list of at most {MAX_QUESTIONS}"
    for n, question in enumerate(questions):
        if problem := _question_errors(question):
            return f"questions[{n}]: {problem}"
    return None


def _is_right(question: Any, answer: Answer) -> bool:
    if not isinstance(question, dict):
        return False
    key = question.get("answer")
    choices = question.get("choices")
    if isinstance(choices, list):
        if isinstance(key, list):
            return (isinstance(answer, list) and all(_is_whole(i) for i in key)
                    and sorted(set(answer)) == sorted(set(key)) and len(set(answer)) == len(answer))
        return _is_whole(key) and _is_whole(answer) and answer == key
    tolerance = question.get("tolerance", 0)
    if not _is_number(key) or not _is_number(tolerance) or tolerance < 0:
        return False
    if not _is_number(answer):
        return False
    return abs(answer - key) <= tolerance + _FLOAT_SLACK * max(1.0, abs(key))


def grade(assessment: Any, answers: list[Answer]) -> Graded:
    """Grades one answer per question, in order (`None`: unanswered). The caller checks the count."""
    questions = questions_of(assessment)
    right = [_is_right(q, a) for q, a in zip(questions, answers, strict=True)]
    score = sum(right) * 100 // len(questions) if questions else 0
    passed = score >= pass_score_of(assessment)

    def explanation(question: Any) -> str | None:
        text = question.get("explanation") if isinstance(question, dict) else None
        return text if passed and isinstance(text, str) else None

    return Graded(score, passed, [QuestionResult(n, ok, explanation(q))
                                  for n, (q, ok) in enumerate(zip(questions, right, strict=True))])
