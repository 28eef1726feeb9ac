"""Notifications over a real server: each cause writes one inbox row and one `notification.created` on the
recipient's `user:` channel (the event's data is the inbox item), the inbox pages and marks read, `GET
/api/auth/me` counts the unread, and the email preferences."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx

from hub.client import HubClient
from hub.settings import Settings
from persistence.jobs import WAKE_CHANNEL
from tests.helpers.api import Account, signup
from tests.helpers.eventually import eventually
from tests.helpers.mailbox import Mailbox, link_in
from tests.helpers.ws import next_durable, settle, ws_url
from tests.integration.test_sessions import create_session, host_account, mint_users

Headers = dict[str, str]


async def new_post(client: httpx.AsyncClient, author: Account) -> dict[str, Any]:
    response = await client.post("/api/posts", json={"title": f"post {secrets.token_hex(4)}", "content": "body"},
                                 headers=author.headers)
    assert response.status_code == 201, response.text
    post: dict[str, Any] = response.json()
    return post


async def comment(client: httpx.AsyncClient, author: Account, post_id: str, content: str = "a reply",
                  parent: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"content": content}
    if parent is not None:
        body["parent_comment_id"] = parent
    response = await client.post(f"/api/posts/{post_id}/comments", json=body, headers=author.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def inbox(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/notifications", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def unread_count(client: httpx.AsyncClient, headers: Headers) -> int:
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    count: int = me.json()["unread_notifications"]
    return count


async def notes_of(owner_conn: asyncpg.Connection, user_id: Any) -> list[dict[str, Any]]:
    """The `notification.created` events of a user's channel, oldest first."""
    rows = await owner_conn.fetch(
        "SELECT data FROM realtime.events WHERE channel = $1 AND event = 'notification.created' ORDER BY seq",
        f"user:{user_id}")
    return [row["data"] for row in rows]


async def test_a_reply_to_a_post_is_one_inbox_item_and_one_live_event(
        client: httpx.AsyncClient, hub_url: str) -> None:
    author, replier = await signup(client), await signup(client, full_name="Rita Replier")
    post = await new_post(client, author)
    async with HubClient(ws_url(hub_url), token=author.access_token) as listener:
        inbox_channel = await listener.subscribe(f"user:{author.user_id}")
        reply = await comment(client, replier, post["id"], "x" * 500)
        [event] = await next_durable(inbox_channel, 1)
        assert await settle(inbox_channel) == []
    assert event.event == "notification.created"
    item = event.data
    assert set(item) == {"id", "kind", "data", "read_at", "created_at"}
    assert (item["kind"], item["read_at"]) == ("post.reply", None)
    assert item["data"] == {"post_id": post["id"], "post_title": post["title"], "comment_id": reply["id"],
                            "parent_comment_id": None, "author_id": str(replier.user_id),
                            "author_name": "Rita Replier", "excerpt": "x" * 199 + "…"}
    assert (await inbox(client, author.headers))["items"] == [item]
    assert await unread_count(client, author.headers) == 1
    assert (await inbox(client, replier.headers))["items"] == []


async def test_a_reply_to_a_comment_tells_the_comments_author_only(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, commenter, replier = await signup(client), await signup(client), await signup(client)
    post = await new_post(client, author)
    top = await comment(client, commenter, post["id"])
    reply = await comment(client, replier, post["id"], parent=top["id"])
    [note] = await notes_of(owner_conn, commenter.user_id)
    assert (note["kind"], note["data"]["comment_id"], note["data"]["parent_comment_id"]) == (
        "comment.reply", reply["id"], top["id"])
    assert [n["kind"] for n in await notes_of(owner_conn, author.user_id)] == ["post.reply"]  # the top comment


async def test_replying_to_oneself_notifies_nobody(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    own = await comment(client, author, post["id"])
    await comment(client, author, post["id"], parent=own["id"])
    assert await notes_of(owner_conn, author.user_id) == []
    assert await unread_count(client, author.headers) == 0


async def test_a_user_who_blocked_the_replier_is_not_notified(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, pest, friend = await signup(client), await signup(client), await signup(client)
    post = await new_post(client, author)
    assert (await client.post(f"/api/users/{pest.user_id}/block", headers=author.headers)).status_code == 204
    await comment(client, pest, post["id"])
    await comment(client, friend, post["id"])
    notes = await notes_of(owner_conn, author.user_id)
    assert [n["data"]["author_id"] for n in notes] == [str(friend.user_id)]


async def test_inbox_pages_filters_unread_and_marks_read_by_ids_or_all(client: httpx.AsyncClient) -> None:
    author, replier = await signup(client), await signup(client)
    post = await new_post(client, author)
    replies = [await comment(client, replier, post["id"], f"reply {n}") for n in range(5)]
    first = await inbox(client, author.headers, limit=2)
    assert [i["data"]["comment_id"] for i in first["items"]] == [replies[4]["id"], replies[3]["id"]]
    rest = await inbox(client, author.headers, limit=10, cursor=first["next_cursor"])
    assert [i["data"]["comment_id"] for i in rest["items"]] == [r["id"] for r in reversed(replies[:3])]
    assert rest["next_cursor"] is None
    ids = [i["id"] for i in first["items"]]

    marked = await client.post("/api/notifications/read", json={"ids": ids}, headers=author.headers)
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 2, "unread_notifications": 3}
    again = await client.post("/api/notifications/read", json={"ids": ids}, headers=author.headers)
    assert again.json() == {"marked": 0, "unread_notifications": 3}
    unread = await inbox(client, author.headers, unread="true")
    assert [i["data"]["comment_id"] for i in unread["items"]] == [r["id"] for r in reversed(replies[:3])]
    everything = (await inbox(client, author.headers))["items"]
    assert [i["read_at"] is not None for i in everything] == [True, True, False, False, False]

    # someone else's ids are not theirs to mark
    stranger = await signup(client)
    other = await client.post("/api/notifications/read", json={"ids": [everything[2]["id"]]},
                              headers=stranger.headers)
    assert other.json() == {"marked": 0, "unread_notifications": 0}
    assert await unread_count(client, author.headers) == 3

    marked_all = await client.post("/api/notifications/read", json={"all": True}, headers=author.headers)
    assert marked_all.json() == {"marked": 3, "unread_notifications": 0}
    assert (await inbox(client, author.headers, unread="true"))["items"] == []
    assert await unread_count(client, author.headers) == 0


async def test_inbox_inputs_are_bounded_and_validated(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    too_many = [str(uuid.uuid4()) for _ in range(101)]
    for body in ({"ids": too_many}, {}, {"all": False}, {"ids": [], "all": True}, {"ids": ["nope"]},
                 {"every": True}):
        response = await client.post("/api/notifications/read", json=body, headers=user.headers)
        assert response.status_code == 422, (body, response.text)
    assert (await client.post("/api/notifications/read", json={"ids": too_many[:100]},
                              headers=user.headers)).status_code == 200
    for params in ({"limit": 101}, {"limit": 0}, {"cursor": "garbage"}):
        response = await client.get("/api/notifications", params=params, headers=user.headers)
        assert response.status_code == 422, (params, response.text)
    assert (await client.get("/api/notifications")).status_code == 401
    assert (await client.get("/api/me/notification-settings")).status_code == 401


async def test_settings_default_per_kind_and_patch_switches_email_of_the_kinds_given(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    response = await client.get("/api/me/notification-settings", headers=user.headers)
    assert response.status_code == 200, response.text
    defaults = response.json()["email"]
    assert defaults == {"post.reply": True, "comment.reply": True, "session.promoted": True,
                        "session.reminder": True, "session.rescheduled": True, "session.cancelled": True,
                        "achievement.unlocked": False, "report.resolved": False}
    patched = await client.patch("/api/me/notification-settings", headers=user.headers,
                                 json={"email": {"post.reply": False, "report.resolved": True}})
    assert patched.status_code == 200, patched.text
    expected = defaults | {"post.reply": False, "report.resolved": True}
    assert patched.json()["email"] == expected
    assert (await client.get("/api/me/notification-settings", headers=user.headers)).json()["email"] == expected
    other = await signup(client)
    assert (await client.get("/api/me/notification-settings", headers=other.headers)).json()["email"] == defaults
    for body in ({"email": {"post.liked": True}}, {"email": {"post.reply": "yes"}}, {"push": {}}, {}):
        bad = await client.patch("/api/me/notification-settings", json=body, headers=user.headers)
        assert bad.status_code == 422, (body, bad.text)


async def test_promotion_reschedule_and_cancellation_notify_the_sessions_users(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    sid = session["id"]
    (seated, seated_headers), (waiting, waiting_headers) = await mint_users(owner_conn, 2)
    for headers in (seated_headers, waiting_headers):
        assert (await client.post(f"/api/sessions/{sid}/registration", headers=headers)).status_code in (200, 201)

    raised = await client.patch(f"/api/sessions/{sid}", json={"max_participants": 2}, headers=host.headers)
    assert raised.status_code == 200, raised.text
    [promoted] = await notes_of(owner_conn, waiting)
    assert (promoted["kind"], promoted["data"]["session_id"], promoted["data"]["title"]) == (
        "session.promoted", sid, session["title"])
    assert await notes_of(owner_conn, seated) == []

    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    moved = await client.patch(f"/api/sessions/{sid}", json={"scheduled_at": later.isoformat()}, headers=host.headers)
    assert moved.status_code == 200, moved.text
    retitled = await client.patch(f"/api/sessions/{sid}", json={"title": "New title"}, headers=host.headers)
    assert retitled.status_code == 200, retitled.text
    for user in (seated, waiting):
        [rescheduled] = [n for n in await notes_of(owner_conn, user) if n["kind"] == "session.rescheduled"]
        assert datetime.fromisoformat(rescheduled["data"]["scheduled_at"]) == later
        assert rescheduled["data"]["previous_scheduled_at"] == session["scheduled_at"]

    cancelled = await client.post(f"/api/sessions/{sid}/cancel", headers=host.headers)
    assert cancelled.status_code == 200, cancelled.text
    for user in (seated, waiting):
        kinds = [n["kind"] for n in await notes_of(owner_conn, user)]
        assert kinds[-1] == "session.cancelled" and kinds.count("session.cancelled") == 1
    assert await notes_of(owner_conn, host.user_id) == []


async def test_an_unlocked_achievement_is_a_notification(client: httpx.AsyncClient,
                                                           owner_conn: asyncpg.Connection) -> None:
    code = f"notes-{uuid.uuid4().hex[:8]}"
    achievement = await owner_conn.fetchval(
        """INSERT INTO public.achievements (code, title, description, xp_reward, requirements)
           VALUES ($1, 'First words', 'Write a post', 5, '{"posts_created": 1}') RETURNING id""", code)
    try:
        author = await signup(client)
        await new_post(client, author)
        notes = [n for n in await notes_of(owner_conn, author.user_id) if n["data"].get("code") == code]
        assert [(n["kind"], n["data"]) for n in notes] == [("achievement.unlocked", {
            "achievement_id": str(achievement), "code": code, "title": "First words", "xp_reward": 5})]
        assert notes[0] in (await inbox(client, author.headers))["items"]
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE code = $1", code)



async def digest_jobs_pending(owner_conn: asyncpg.Connection, user_id: Any) -> int:
    """The user's digest jobs (and their mails' jobs) not finished yet."""
    pending: int = await owner_conn.fetchval(
        """SELECT count(*) FROM private.jobs WHERE status IN ('queued', 'running')
           AND (key LIKE 'notification.digest:' || $1 || ':%' OR payload->>'to' = $2)""",
        str(user_id), await owner_conn.fetchval("SELECT email FROM auth.users WHERE id = $1", user_id))
    return pending


async def flush_digest(owner_conn: asyncpg.Connection, user_id: Any) -> None:
    """Ends the user's digest window now: its `due` run is moved to now and the runners are woken. The suite's
    window (`base_settings`) is long, so a burst always fits in one window however busy the machine is."""
    async def moved() -> bool:
        status: str = await owner_conn.execute(
            "UPDATE private.jobs SET run_at = now() WHERE status = 'queued' AND key LIKE $1",
            f"notification.digest:{user_id}:%:due")
        return status != "UPDATE 0"
    await eventually(moved, within=30, what="the digest's due run to be queued")
    await owner_conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)


def digests_to(mailbox: Mailbox, email: str) -> list[EmailMessage]:
    """The digest mails (signup mailed a verification link too)."""
    return [m for m in mailbox.messages_to(email) if "new notification" in str(m["Subject"])]


async def settled(owner_conn: asyncpg.Connection, user_id: Any) -> None:
    async def done() -> bool:
        return await digest_jobs_pending(owner_conn, user_id) == 0
    await eventually(done, within=30, what="the user's digest jobs to finish")


async def test_a_reply_mails_one_digest_when_switched_on_and_none_when_off(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, mailbox: Mailbox) -> None:
    mailed, quiet, replier = await signup(client), await signup(client), await signup(client, full_name="Rita")
    off = await client.patch("/api/me/notification-settings", json={"email": {"post.reply": False}},
                             headers=quiet.headers)
    assert off.status_code == 200, off.text
    posts = [await new_post(client, mailed), await new_post(client, quiet)]
    for post in posts:
        await comment(client, replier, post["id"], "line one\nline two")

    await flush_digest(owner_conn, mailed.user_id)
    message = await mailbox.wait_for(mailed.email, within=30, subject_contains="new notification")
    assert message["Subject"] == "1 new notification"
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert f'- Rita commented on "{posts[0]["title"]}": line one line two\r\n' in body.get_content()
    assert link_in(message).endswith("/#/notifications")
    await settled(owner_conn, mailed.user_id)
    await settled(owner_conn, quiet.user_id)
    assert len(digests_to(mailbox, mailed.email)) == 1
    assert digests_to(mailbox, quiet.email) == []
    # in-app is always on
    assert [i["kind"] for i in (await inbox(client, quiet.headers))["items"]] == ["post.reply"]


async def test_a_burst_of_fifty_replies_sends_one_digest(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, mailbox: Mailbox,
        base_settings: Settings) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    repliers = await mint_users(owner_conn, 50)
    started = time.monotonic()
    replies = await asyncio.gather(*(
        client.post(f"/api/posts/{post['id']}/comments", json={"content": f"reply {n}"}, headers=headers)
        for n, (_, headers) in enumerate(repliers)))
    burst_s = time.monotonic() - started
    assert [r.status_code for r in replies] == [201] * 50
    assert burst_s < base_settings.notify_digest_window_s, "the burst must fit in one digest window"
    assert len((await inbox(client, author.headers, limit=100))["items"]) == 50

    await flush_digest(owner_conn, author.user_id)
    message = await mailbox.wait_for(author.email, within=30, subject_contains="new notification")
    await settled(owner_conn, author.user_id)
    assert len(digests_to(mailbox, author.email)) == 1
    assert message["Subject"] == "50 new notifications"
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert body.get_content().count("commented on") == 20 and "…and 30 more." in body.get_content()
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM public.notifications WHERE user_id = $1 AND emailed_at IS NOT NULL",
        author.user_id) == 50

    # the next reply after the digest went out starts a new one
    await comment(client, await signup(client), post["id"], "one more")
    await flush_digest(owner_conn, author.user_id)
    await eventually(lambda: len(digests_to(mailbox, author.email)) == 2, within=30, what="a second digest")
    assert digests_to(mailbox, author.email)[1]["Subject"] == "1 new notification"


async def test_a_reminder_notifies_every_seat_holder_and_mails_only_those_who_want_it(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, mailbox: Mailbox) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    sid = session["id"]
    mailed, unmailed, waiting = await signup(client), await signup(client), await signup(client)
    off = await client.patch("/api/me/notification-settings", json={"email": {"session.reminder": False}},
                             headers=unmailed.headers)
    assert off.status_code == 200, off.text
    for account in (mailed, unmailed, waiting):
        assert (await client.post(f"/api/sessions/{sid}/registration", headers=account.headers)).is_success

    soon = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    moved = await client.patch(f"/api/sessions/{sid}", json={"scheduled_at": soon.isoformat()}, headers=host.headers)
    assert moved.status_code == 200, moved.text
    await mailbox.wait_for(mailed.email, subject_contains="Starting soon")

    async def reminded(account: Account) -> list[dict[str, Any]]:
        return [n for n in await notes_of(owner_conn, account.user_id) if n["kind"] == "session.reminder"]

    async def both_reminded() -> bool:
        return all([len(await reminded(a)) == 1 for a in (mailed, unmailed)])

    await eventually(both_reminded, within=30, what="a session.reminder notification for each seat holder")
    [note] = await reminded(mailed)
    assert (note["data"]["session_id"], datetime.fromisoformat(note["data"]["scheduled_at"])) == (sid, soon)
    assert await reminded(waiting) == []
    for account in (mailed, unmailed, waiting):
        await flush_digest(owner_conn, account.user_id)  # the move's `session.rescheduled`
        await settled(owner_conn, account.user_id)
    assert [m["Subject"] for m in mailbox.messages_to(unmailed.email)
            if "Starting soon" in str(m["Subject"])] == []
    # mailed at once, so no digest repeats it: the only digest is the move's `session.rescheduled`
    digests = [m for m in mailbox.messages_to(mailed.email) if "new notification" in str(m["Subject"])]
    assert [m["Subject"] for m in digests] == ["1 new notification"]
    assert "moved to" in str(digests[0].get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


async def test_deleting_a_reply_or_its_post_redacts_its_notification_and_logged_event(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, replier = await signup(client), await signup(client)
    post = await new_post(client, author)
    gone = await comment(client, replier, post["id"], "regrettable words")
    kept = await comment(client, replier, post["id"], "kind words")
    deleted = await client.delete(f"/api/comments/{gone['id']}", headers=replier.headers)
    assert deleted.status_code in (200, 204), deleted.text

    def by_comment(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {i["data"]["comment_id"]: i["data"] for i in items}

    inbox_items = by_comment((await inbox(client, author.headers))["items"])
    logged = by_comment(await notes_of(owner_conn, author.user_id))
    for seen in (inbox_items, logged):
        assert (seen[gone["id"]]["excerpt"], seen[gone["id"]]["redacted"]) == (None, True)
        assert seen[gone["id"]]["post_title"] == post["title"]
        assert seen[kept["id"]]["excerpt"] == "kind words" and "redacted" not in seen[kept["id"]]

    assert (await client.delete(f"/api/posts/{post['id']}", headers=author.headers)).status_code in (200, 204)
    inbox_items = by_comment((await inbox(client, author.headers))["items"])
    logged = by_comment(await notes_of(owner_conn, author.user_id))
    for seen in (inbox_items, logged):
        for item in seen.values():
            assert (item["excerpt"], item["post_title"], item["redacted"]) == (None, None, True)


async def test_hiding_a_reply_or_its_post_blanks_its_notification_and_logged_event_until_dismissed(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, replier = await signup(client), await signup(client)
    post = await new_post(client, author)
    hidden = await comment(client, replier, post["id"], "abusive  words\nhere")
    kept = await comment(client, replier, post["id"], "kind words")

    async def seen() -> list[dict[str, dict[str, Any]]]:
        return [{i["data"]["comment_id"]: i["data"] for i in items}
                for items in ((await inbox(client, author.headers))["items"],
                              await notes_of(owner_conn, author.user_id))]

    statements = {  # the UPDATEs persistence/reports.py runs on a hide and on a dismissal
        "community_comments": "UPDATE public.community_comments SET hidden_at = CASE WHEN $2 THEN now() END "
                              "WHERE id = $1",
        "community_posts": "UPDATE public.community_posts SET hidden_at = CASE WHEN $2 THEN now() END WHERE id = $1"}

    async def hide(table: str, row_id: str, hidden_now: bool) -> None:
        await owner_conn.execute(statements[table], uuid.UUID(row_id), hidden_now)

    await hide("community_comments", hidden["id"], True)
    for items in await seen():
        assert (items[hidden["id"]]["excerpt"], items[hidden["id"]]["hidden"]) == (None, True)
        assert items[hidden["id"]]["post_title"] == post["title"]
        assert items[kept["id"]]["excerpt"] == "kind words" and "hidden" not in items[kept["id"]]

    await hide("community_posts", post["id"], True)
    for items in await seen():
        for item in items.values():
            assert (item["excerpt"], item["post_title"], item["hidden"]) == (None, None, True)

    await hide("community_posts", post["id"], False)  # the reply itself is still hidden
    for items in await seen():
        assert (items[hidden["id"]]["excerpt"], items[hidden["id"]]["hidden"]) == (None, True)
        assert (items[kept["id"]]["excerpt"], items[kept["id"]]["post_title"]) == ("kind words", post["title"])
        assert "hidden" not in items[kept["id"]]

    await hide("community_comments", hidden["id"], False)
    for items in await seen():
        assert (items[hidden["id"]]["excerpt"], items[hidden["id"]]["post_title"]) == ("abusive words here",
                                                                                       post["title"])
        assert "hidden" not in items[hidden["id"]]


async def test_a_digest_leaves_out_a_hidden_reply(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, mailbox: Mailbox) -> None:
    author, replier = await signup(client), await signup(client, full_name="Rita")
    post = await new_post(client, author)
    hidden = await comment(client, replier, post["id"], "abusive words")
    await comment(client, replier, post["id"], "kind words")
    await owner_conn.execute("UPDATE public.community_comments SET hidden_at = now() WHERE id = $1",
                             uuid.UUID(hidden["id"]))

    await flush_digest(owner_conn, author.user_id)
    message = await mailbox.wait_for(author.email, within=30, subject_contains="new notification")
    assert message["Subject"] == "1 new notification"
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert "kind words" in body.get_content() and "abusive" not in body.get_content()
    await settled(owner_conn, author.user_id)
    assert await owner_conn.fetchval(
        "SELECT emailed_at IS NULL FROM public.notifications WHERE data ->> 'comment_id' = $1", hidden["id"])
