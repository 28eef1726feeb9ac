"""`question.votes` on `session:<id>`: coalesced absolute upvote counts, one frame per question per window.

Each instance hears every vote's `hub_state` note (`{"k": "question_votes", "session_id",
"question_id", "up"}`, in commit order), decoded once by the listener (`channels.events.QuestionVoteCount`)
and routed here by the live room's `route_states` (`hub.realtime.extension`); for sessions with local
subscribers the latest count per question is coalesced (`channels.coalesce.Coalescer`, window
`COALESCE_MS`) and broadcast as `{"question_id", "upvotes"}` with `seq` null. The last frame of a storm
carries the last committed count, which equals the stored votes. `run` owns the timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from channels.events import QuestionVoteCount
from channels.frames import EventFrame, encode_json
from channels.names import ChannelName
from hub.realtime.fanout import Fanout
from hub.realtime.state_channels import CoalescedSender

__all__ = ["QuestionVotes"]


class QuestionVotes:
    def __init__(self, fanout: Fanout, *, coalesce_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._fanout = fanout
        self._sender: CoalescedSender[tuple[str, str], int] = CoalescedSender(coalesce_s, self._send, clock)

    def on_state(self, note: QuestionVoteCount) -> None:
        channel = str(ChannelName.session(note.session_id))
        if self._fanout.has(channel):
            self._sender.offer((channel, note.question_id), note.up)

    async def run(self) -> None:
        """Send due counts until cancelled."""
        await self._sender.run()

    async def _send(self, key: tuple[str, str], upvotes: int) -> None:
        channel, question_id = key
        data = encode_json({"question_id": question_id, "upvotes": upvotes})
        self._fanout.broadcast(channel, EventFrame(channel, None, "question.votes", data, datetime.now(UTC)))
