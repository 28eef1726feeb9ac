"""Votes on posts and comments: cast, switch, retract.

Counters and the `votes:<post_id>` notification come from the schema's vote trigger in the same
transaction; no event-log row is written per vote. Responses carry the counts as this transaction
left them, in the shape of the `counts` event plus the caller's own vote.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import delete, put
from litestar.params import FromPath, JSONBody

from hub.auth import AppServices, Caller, require_verified
from hub.budgets import VOTES, spend
from hub.errors import NotFound
from hub.rules.threads import score
from persistence import votes
from persistence.identity import Identity
from persistence.votes import TargetType, VoteType


class VoteIn(msgspec.Struct, forbid_unknown_fields=True):
    vote_type: VoteType


class VoteOut(msgspec.Struct):
    target_type: str
    target_id: UUID
    upvotes: int
    downvotes: int
    score: int
    my_vote: str | None


async def _vote(services: AppServices, user: Identity, target_type: TargetType, target_id: UUID,
                vote_type: VoteType | None) -> VoteOut:
    """Casts `vote_type`, or retracts the caller's vote when it is None (idempotent)."""
    require_verified(services, user)
    user_id = user.require_user_id()
    try:
        async with services.db.transaction(user) as conn:
            if await votes.counts(conn, target_type, target_id) is None:
                raise NotFound(f"No such {target_type}")
            if vote_type is None:
                await votes.retract(conn, user_id, target_type, target_id)
            else:
                await votes.cast(conn, user_id, target_type, target_id, vote_type)
            after = await votes.counts(conn, target_type, target_id)
    except (asyncpg.ForeignKeyViolationError, asyncpg.InsufficientPrivilegeError):
        # deleted after our check: the vote trigger found no target, or the policy a deleted comment
        after = None
    if after is None:
        raise NotFound(f"No such {target_type}")
    up, down = after
    return VoteOut(target_type, target_id, up, down, score(up, down), vote_type)


@put("/api/posts/{post_id:uuid}/vote", tags=["community"])
async def vote_post(post_id: FromPath[UUID], data: JSONBody[VoteIn], user: Caller,
                    services: AppServices) -> VoteOut:
    await spend(services, VOTES, str(user.require_user_id()))  # casting counts; retracting (DELETE) does not
    return await _vote(services, user, "post", post_id, data.vote_type)


@delete("/api/posts/{post_id:uuid}/vote", status_code=200, tags=["community"])
async def retract_post_vote(post_id: FromPath[UUID], user: Caller, services: AppServices) -> VoteOut:
    return await _vote(services, user, "post", post_id, None)


@put("/api/comments/{comment_id:uuid}/vote", tags=["community"])
async def vote_comment(comment_id: FromPath[UUID], data: JSONBody[VoteIn], user: Caller,
                       services: AppServices) -> VoteOut:
    await spend(services, VOTES, str(user.require_user_id()))
    return await _vote(services, user, "comment", comment_id, data.vote_type)


@delete("/api/comments/{comment_id:uuid}/vote", status_code=200, tags=["community"])
async def retract_comment_vote(comment_id: FromPath[UUID], user: Caller, services: AppServices) -> VoteOut:
    return await _vote(services, user, "comment", comment_id, None)


ROUTES: list[Any] = [vote_post, retract_post_vote, vote_comment, retract_comment_vote]
