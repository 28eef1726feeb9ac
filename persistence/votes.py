"""Votes on posts and comments, as the caller.

The counters are the schema's: `community_votes_counts` changes them atomically in the writing
transaction (and sends the `hub_state` notification the realtime layer turns into `counts`), so this
module only writes the caller's vote row and reads the counters back in the same transaction.
A write against a target deleted meanwhile fails in that trigger with foreign_key_violation.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import asyncpg

TargetType = Literal["post", "comment"]
VoteType = Literal["upvote", "downvote"]

# A soft-deleted comment is not a vote target.
_COUNTS: dict[str, str] = {
    "post": "SELECT upvotes_count, downvotes_count FROM public.community_posts WHERE id = $1",
    "comment": """
        SELECT upvotes_count, downvotes_count FROM public.community_comments WHERE id = $1 AND NOT is_deleted
    """,
}


async def counts(conn: asyncpg.Connection, target_type: TargetType, target_id: UUID) -> tuple[int, int] | None:
    """(upvotes, downvotes) of a live target as this transaction sees it, or None when there is none."""
    row = await conn.fetchrow(_COUNTS[target_type], target_id)
    return None if row is None else (row["upvotes_count"], row["downvotes_count"])


async def cast(conn: asyncpg.Connection, user_id: UUID, target_type: TargetType, target_id: UUID,
               vote_type: VoteType) -> None:
    """Creates the caller's vote or switches it; recasting the same vote writes nothing."""
    await conn.execute(
        """
        INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, target_type, target_id)
        DO UPDATE SET vote_type = EXCLUDED.vote_type
        WHERE community_votes.vote_type <> EXCLUDED.vote_type
        """,
        user_id, target_type, target_id, vote_type,
    )


async def retract(conn: asyncpg.Connection, user_id: UUID, target_type: TargetType, target_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM public.community_votes WHERE user_id = $1 AND target_type = $2 AND target_id = $3",
        user_id, target_type, target_id,
    )
