"""What subscribing to a channel (or reading its history) depends on, looked up in one query.

Run as SERVICE: the decision itself is made by `channels.access.decide_subscribe`, which must see
rows the caller's RLS might hide (another user's attendance is never returned, only the caller's).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from channels.access import ChannelFacts
from channels.names import ChannelKind, ChannelName
from persistence import sessions

# The post's author when it is hidden pending review (null when it is not).
_POST = "SELECT CASE WHEN hidden_at IS NOT NULL THEN author_id::text END AS hidden_author_id " \
        "FROM public.community_posts WHERE id = $1"

# The post, then its first `$2` comments in display order (idx_comments_post_sort_path): the ones a
# client that just loaded the thread's first pages shows. A snapshot of every comment grew with the
# thread (2,000 comments: 226 KB in one frame); the others' counts come with their thread page and live.
_VOTE_COUNTS = """
SELECT 'post' AS target_type, id::text AS target_id, upvotes_count, downvotes_count
FROM public.community_posts WHERE id = $1
UNION ALL
(SELECT 'comment', id::text, upvotes_count, downvotes_count
 FROM public.community_comments WHERE post_id = $1
 ORDER BY sort_path
 LIMIT $2)
"""


async def channel_facts(conn: asyncpg.Connection, channel: ChannelName, user_id: UUID) -> ChannelFacts:
    """Facts for `decide_subscribe`/`decide_publish`; channels that need none get the default."""
    if channel.kind in (ChannelKind.THREAD, ChannelKind.VOTES):
        post = await conn.fetchrow(_POST, UUID(channel.key))
        if post is None:
            return ChannelFacts(exists=False)
        return ChannelFacts(hidden_author_id=post["hidden_author_id"])
    if channel.kind is ChannelKind.SESSION:
        row = await sessions.channel_facts(conn, UUID(channel.key), user_id)
        if row is None:
            return ChannelFacts(exists=False)
        return ChannelFacts(
            exists=True,
            host_id=str(row["host_id"]),
            session_status=row["status"],
            attendance_status=row["attendance_status"],
        )
    return ChannelFacts()


async def vote_counts(conn: asyncpg.Connection, post_id: str, max_comments: int) -> list[asyncpg.Record]:
    """(target_type, target_id, upvotes_count, downvotes_count) of a post and of its first
    `max_comments` comments in display order."""
    rows: list[asyncpg.Record] = await conn.fetch(_VOTE_COUNTS, UUID(post_id), max_comments)
    return rows
