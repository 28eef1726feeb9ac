"""Votes over HTTP: cast, switch, retract, 404s, no event-log rows, and exact counters under concurrency."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec

from tests.helpers.api import Account, signup
from tests.helpers.services import DatabaseUnderTest
from tests.integration.test_comments import reply
from tests.integration.test_posts import head, new_post


async def vote(client: httpx.AsyncClient, account: Account, path: str, vote_type: str | None) -> httpx.Response:
    if vote_type is None:
        return await client.delete(f"{path}/vote", headers=account.headers)
    return await client.put(f"{path}/vote", json={"vote_type": vote_type}, headers=account.headers)


async def test_cast_switch_and_retract_return_the_counts_and_my_vote(client: httpx.AsyncClient) -> None:
    author, me, other = await signup(client), await signup(client), await signup(client)
    post = await new_post(client, author)
    path = f"/api/posts/{post['id']}"
    assert (await vote(client, other, path, "upvote")).status_code == 200
    steps = [("upvote", 2, 0, "upvote"), ("upvote", 2, 0, "upvote"), ("downvote", 1, 1, "downvote"),
             (None, 1, 0, None), (None, 1, 0, None)]
    for vote_type, up, down, mine in steps:
        response = await vote(client, me, path, vote_type)
        assert response.status_code == 200, response.text
        assert response.json() == {"target_type": "post", "target_id": post["id"], "upvotes": up,
                                   "downvotes": down, "score": up - down, "my_vote": mine}, vote_type
    fetched = (await client.get(path, headers=me.headers)).json()
    assert (fetched["upvotes_count"], fetched["downvotes_count"], fetched["score"]) == (1, 0, 1)

    comment = await reply(client, author, post["id"], "c")
    response = await vote(client, me, f"/api/comments/{comment['id']}", "downvote")
    assert response.json() == {"target_type": "comment", "target_id": comment["id"], "upvotes": 0,
                               "downvotes": 1, "score": -1, "my_vote": "downvote"}


async def test_votes_on_missing_or_deleted_targets_are_404_and_bad_votes_422(client: httpx.AsyncClient,
                                                                           owner_conn: asyncpg.Connection) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    comment = await reply(client, author, post["id"], "soon gone")
    await client.delete(f"/api/comments/{comment['id']}", headers=author.headers)
    for path in (f"/api/posts/{uuid.uuid4()}", f"/api/comments/{uuid.uuid4()}", f"/api/comments/{comment['id']}"):
        for vote_type in ("upvote", None):
            response = await vote(client, author, path, vote_type)
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), (path, vote_type)
    for body in ({"vote_type": "meh"}, {}, {"vote_type": "upvote", "user_id": str(uuid.uuid4())}):
        response = await client.put(f"/api/posts/{post['id']}/vote", json=body, headers=author.headers)
        assert response.status_code == 422, body
    assert await owner_conn.fetchval("SELECT count(*) FROM community_votes WHERE user_id = $1", author.user_id) == 0


async def events_naming(owner_conn: asyncpg.Connection, *names: object) -> int:
    """Events in any channel whose channel or data names one of `names`: unlike a count of the whole log,
    other tests' events (a reminder job due now, the hourly prune) cannot move it."""
    count: int = await owner_conn.fetchval(
        """SELECT count(*) FROM realtime.events e WHERE EXISTS (
               SELECT FROM unnest($1::text[]) AS n WHERE strpos(e.channel, n) > 0 OR strpos(e.data::text, n) > 0)""",
        [str(name) for name in names])
    return count


async def test_a_vote_appends_no_event_but_notifies_the_counts_state(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, test_db: DatabaseUnderTest) -> None:
    author, voter = await signup(client), await signup(client)
    post = await new_post(client, author)
    comment = await reply(client, author, post["id"], "c")
    thread = f"thread:{post['id']}"
    heads = (await head(owner_conn, "feed"), await head(owner_conn, thread))
    named = (post["id"], comment["id"], author.user_id, voter.user_id)
    events_before = await events_naming(owner_conn, *named)
    assert events_before > 0, "the probe sees the post's and comment's own events"
    listener = await asyncpg.connect(test_db.owner_dsn)
    notes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await listener.add_listener("hub_state", lambda *args: notes.put_nowait(msgspec.json.decode(args[3])))
    try:
        await vote(client, voter, f"/api/comments/{comment['id']}", "upvote")
        note = await asyncio.wait_for(notes.get(), 5)
    finally:
        await listener.close()
    assert note == {"k": "votes", "post_id": post["id"], "target_type": "comment", "target_id": comment["id"],
                    "up": 1, "down": 0}
    assert (await head(owner_conn, "feed"), await head(owner_conn, thread)) == heads
    assert await events_naming(owner_conn, *named) == events_before


async def test_counters_equal_row_counts_after_hundreds_of_concurrent_votes(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    rng = random.Random(20240611)
    author = await signup(client)
    voters = list(await asyncio.gather(*(signup(client) for _ in range(20))))
    post = await new_post(client, author)
    comments = [await reply(client, author, post["id"], f"c{n}") for n in range(3)]
    targets = [f"/api/posts/{post['id']}"] + [f"/api/comments/{c['id']}" for c in comments]
    choices = ["upvote", "downvote", None]
    model: dict[tuple[int, str], str | None] = {}

    for _batch in range(12):
        # one operation per (voter, target) in a batch, so the final state is known; many per target
        picks = rng.sample([(v, t) for v in range(len(voters)) for t in targets], 40)
        ops = [(v, t, rng.choice(choices)) for v, t in picks]
        responses = await asyncio.gather(*(vote(client, voters[v], t, vt) for v, t, vt in ops))
        for (v, t, vt), response in zip(ops, responses, strict=True):
            assert response.status_code == 200, response.text
            assert response.json()["my_vote"] == vt
            model[(v, t)] = vt
    # and a burst where the same voter hits the same target several times at once
    burst = [(rng.randrange(3), targets[0], rng.choice(choices)) for _ in range(30)]
    assert all(r.status_code == 200 for r in await asyncio.gather(
        *(vote(client, voters[v], t, vt) for v, t, vt in burst)))

    post_id = uuid.UUID(post["id"])
    mismatches = await owner_conn.fetch(
        """
        SELECT 'post' AS kind, p.id FROM community_posts p
        WHERE p.id = $1 AND (
            p.upvotes_count <> (SELECT count(*) FROM community_votes v
                                WHERE v.target_type = 'post' AND v.target_id = p.id AND v.vote_type = 'upvote')
         OR p.downvotes_count <> (SELECT count(*) FROM community_votes v
                                  WHERE v.target_type = 'post' AND v.target_id = p.id AND v.vote_type = 'downvote')
         OR p.comments_count <> (SELECT count(*) FROM community_comments c WHERE c.post_id = p.id))
        UNION ALL
        SELECT 'comment', c.id FROM community_comments c
        WHERE c.post_id = $1 AND (
            c.upvotes_count <> (SELECT count(*) FROM community_votes v
                                WHERE v.target_type = 'comment' AND v.target_id = c.id AND v.vote_type = 'upvote')
         OR c.downvotes_count <> (SELECT count(*) FROM community_votes v
                                  WHERE v.target_type = 'comment' AND v.target_id = c.id
                                    AND v.vote_type = 'downvote'))
        """,
        post_id,
    )
    assert mismatches == []
    assert await owner_conn.fetchval("SELECT comments_count FROM community_posts WHERE id = $1", post_id) == 3

    # every voter outside the burst ends with exactly the vote of its last operation
    rows = await owner_conn.fetch(
        "SELECT user_id, target_type, target_id, vote_type FROM community_votes WHERE user_id = ANY($1::uuid[])",
        [voters[v].user_id for v in range(3, len(voters))])
    stored = {(r["user_id"], f"/api/{r['target_type']}s/{r['target_id']}"): r["vote_type"] for r in rows}
    expected = {(voters[v].user_id, t): vt for (v, t), vt in model.items() if v >= 3 and vt is not None}
    assert stored == expected
    final = (await vote(client, voters[5], targets[0], "upvote")).json()
    counted = await owner_conn.fetchrow(
        "SELECT count(*) FILTER (WHERE vote_type = 'upvote') AS up, count(*) FILTER (WHERE vote_type = 'downvote')"
        " AS down FROM community_votes WHERE target_type = 'post' AND target_id = $1", post_id)
    assert (final["upvotes"], final["downvotes"]) == (counted["up"], counted["down"])
