"""Where a subscription to a durable channel starts: live, replay, or reset.

Inputs come from ``realtime.channel_heads``: ``head`` (last sequence written) and
``trimmed_seq`` (highest pruned; events ``<= trimmed_seq`` are gone, so events
``trimmed_seq + 1 .. head`` are retained).
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.errors import FrameError

__all__ = ["HISTORY_EXPIRED", "Live", "Replay", "Reset", "ResumeDecision", "decide_resume"]

HISTORY_EXPIRED = "history_expired"


@dataclass(frozen=True, slots=True)
class Live:
    """No replay: deliver live events from ``from_seq`` (``head + 1``) on."""

    from_seq: int


@dataclass(frozen=True, slots=True)
class Replay:
    """Read events ``after + 1 .. through`` from the log, then continue live.

    The range is empty when ``after == through``.
    """

    after: int
    through: int


@dataclass(frozen=True, slots=True)
class Reset:
    """The log no longer reaches back to ``since``.

    Send ``reset`` (seq ``head``) after the reply, then continue live from ``head + 1``.
    """

    head: int
    reason: str = HISTORY_EXPIRED


ResumeDecision = Live | Replay | Reset


def decide_resume(head: int, trimmed_seq: int, since: int | None) -> ResumeDecision:
    """Decide how a subscription with ``since`` starts on a channel at ``head``.

    Raises ``bad_frame`` when ``since`` is negative or ahead of the channel.
    ``head``/``trimmed_seq`` are trusted inputs; ``0 <= trimmed_seq <= head`` is required.
    """
    if not 0 <= trimmed_seq <= head:
        raise ValueError(f"inconsistent channel head: head={head} trimmed_seq={trimmed_seq}")
    if since is None:
        return Live(from_seq=head + 1)
    if since < 0:
        raise FrameError("invalid since", {"path": "$.since", "message": "since must be >= 0"})
    if since > head:
        raise FrameError(
            "invalid since",
            {"path": "$.since", "message": "since is ahead of the channel", "seq": head},
        )
    if since < trimmed_seq:
        return Reset(head=head)
    return Replay(after=since, through=head)
