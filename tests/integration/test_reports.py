"""Reports and the moderation queue over a real server: filing (once, only what the reporter can see, never
one's own), hiding at the threshold, the admin queue, and each resolution with its removal, ban, audit row
and the reporters' `notification.created`."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from hub.client import HubClient
from tests.conftest import HubStarter
from tests.helpers.api import Account, admin, signup
from tests.helpers.ws import next_durable, ws_url
from tests.integration.test_sessions import mint_users

Headers = dict[str, str]


async def new_post(client: httpx.AsyncClient, author: Account, title: str | None = None) -> str:
    response = await client.post("/api/posts", json={"title": title or f"post {secrets.token_hex(4)}",
                                                     "content": "reported body"}, headers=author.headers)
    assert response.status_code == 201, response.text
    post_id: str = response.json()["id"]
    return post_id


async def report(client: httpx.AsyncClient, headers: Headers, target_type: str, target_id: Any,
                 reason: str = "spam", **extra: Any) -> httpx.Response:
    return await client.post("/api/reports", headers=headers,
                             json={"target_type": target_type, "target_id": str(target_id), "reason": reason, **extra})


async def resolve(client: httpx.AsyncClient, boss: Account, report_id: str, action: str,
                  note: str | None = "checked") -> httpx.Response:
    return await client.post(f"/api/admin/reports/{report_id}/resolve", headers=boss.headers,
                             json={"action": action, "note": note})


async def queue_entry(client: httpx.AsyncClient, boss: Account, target_id: str,
                      status: str = "open") -> dict[str, Any] | None:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": status, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/admin/reports", params=params, headers=boss.headers)
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            if item["target_id"] == target_id:
                found: dict[str, Any] = item
                return found
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return None


async def feed_ids(client: httpx.AsyncClient, headers: Headers) -> set[str]:
    page = await client.get("/api/posts", params={"sort": "new", "limit": 100}, headers=headers)
    assert page.status_code == 200, page.text
    return {item["id"] for item in page.json()["items"]}


async def audit_rows(owner_conn: asyncpg.Connection, target_id: Any) -> list[asyncpg.Record]:
    return await owner_conn.fetch(
        "SELECT actor_id, action, target_type, reason, details FROM private.admin_audit "
        "WHERE target_id = $1 ORDER BY id", str(target_id))


async def test_a_report_is_filed_once_per_reporter_and_target(client: httpx.AsyncClient) -> None:
    author, reporter = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    first = await report(client, reporter.headers, "post", post_id, "abuse", details="rude")
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"id", "target_type", "target_id", "reason", "status", "created_at"}
    assert (body["target_type"], body["target_id"], body["reason"], body["status"]) == (
        "post", post_id, "abuse", "open")
    again = await report(client, reporter.headers, "post", post_id, "spam")
    assert (again.status_code, again.json()["code"]) == (409, "already_reported")
    # a retry with its Idempotency-Key gets the first answer back, not the 409
    other = await signup(client)
    keyed = {**other.headers, "Idempotency-Key": "report-once"}
    sent = await report(client, keyed, "post", post_id, "other")
    retried = await report(client, keyed, "post", post_id, "other")
    assert (sent.status_code, retried.status_code, retried.json()) == (201, 201, sent.json())


async def test_only_what_the_reporter_can_see_and_never_their_own_can_be_reported(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, reporter = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    assert (await report(client, reporter.headers, "post", UUID(int=5))).status_code == 404
    assert (await report(client, reporter.headers, "user", UUID(int=5))).status_code == 404
    own = await report(client, author.headers, "post", post_id)
    assert (own.status_code, own.json()["code"]) == (422, "validation_failed")
    assert (await report(client, author.headers, "user", author.user_id)).status_code == 422
    assert (await report(client, reporter.headers, "user", author.user_id)).status_code == 201
    # a chat line of a room the reporter has no seat in: as if it did not exist
    session = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration) "
        "VALUES ('room', $1, now() + interval '1 day', interval '1 hour') RETURNING id", author.user_id)
    line = await owner_conn.fetchval(
        "INSERT INTO public.session_messages (session_id, author_id, kind, content) "
        "VALUES ($1, $2, 'chat', 'a line') RETURNING id", session, author.user_id)
    assert (await report(client, reporter.headers, "session_message", line)).status_code == 404
    await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
                             "VALUES ($1, $2, 'registered')", session, reporter.user_id)
    assert (await report(client, reporter.headers, "session_message", line)).status_code == 201
    too_long = await report(client, reporter.headers, "post", post_id, details="x" * 1001)
    assert too_long.status_code == 422
    assert (await report(client, reporter.headers, "post", post_id, reason="boring")).status_code == 422


async def test_remove_content_deletes_the_post_tells_every_reporter_and_is_audited(
        client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, first, second = await signup(client), await signup(client), await signup(client)
    post_id = await new_post(client, author)
    async with (HubClient(ws_url(hub_url), token=first.access_token) as first_hub,
                HubClient(ws_url(hub_url), token=second.access_token) as second_hub):
        listeners = [await hub.subscribe(f"user:{reporter.user_id}")
                     for hub, reporter in ((first_hub, first), (second_hub, second))]
        filed = [(await report(client, r.headers, "post", post_id, reason)).json()
                 for r, reason in ((first, "spam"), (second, "abuse"))]

        entry = await queue_entry(client, boss, post_id)
        assert entry is not None
        assert (entry["target_type"], entry["report_count"], entry["reasons"]) == ("post", 2, ["abuse", "spam"])
        assert entry["content"]["body"] == "reported body" and entry["content"]["author_id"] == str(author.user_id)
        assert entry["content"]["author_email"] == author.email
        assert {r["id"]: r["reporter_id"] for r in entry["reports"]} == {
            filed[0]["id"]: str(first.user_id), filed[1]["id"]: str(second.user_id)}

        resolved = await resolve(client, boss, filed[1]["id"], "remove_content", "off the rails")
        assert resolved.status_code == 200, resolved.text
        assert set(resolved.json()["resolved"]) == {filed[0]["id"], filed[1]["id"]}

        for listener, reporter, mine in zip(listeners, (first, second), filed, strict=True):
            [event] = await next_durable(listener, 1)
            assert event.event == "notification.created"
            item = event.data
            assert (item["kind"], item["data"], item["read_at"]) == ("report.resolved", {
                "report_id": mine["id"], "target_type": "post", "target_id": post_id,
                "outcome": "remove_content"}, None)
            inbox = (await client.get("/api/notifications", headers=reporter.headers)).json()["items"]
            assert inbox == [item]
    assert (await client.get(f"/api/posts/{post_id}", headers=first.headers)).status_code == 404
    assert post_id not in await feed_ids(client, author.headers)
    assert await queue_entry(client, boss, post_id) is None
    done = await queue_entry(client, boss, post_id, status="resolved")
    assert done is not None and done["content"]["removed"] is True
    assert {r["outcome"] for r in done["reports"]} == {"remove_content"}
    rows = await audit_rows(owner_conn, post_id)
    assert [(r["actor_id"], r["action"], r["target_type"], r["reason"], r["details"]["action"]) for r in rows] == [
        (boss.user_id, "report.resolve", "post", "off the rails", "remove_content")]


async def test_remove_content_soft_deletes_a_comment_and_a_chat_line(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, reporter = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    comment = await client.post(f"/api/posts/{post_id}/comments", json={"content": "nasty"}, headers=author.headers)
    comment_id = comment.json()["id"]
    filed = await report(client, reporter.headers, "comment", comment_id)
    assert (await resolve(client, boss, filed.json()["id"], "remove_content")).status_code == 200
    shown = await client.get(f"/api/comments/{comment_id}", headers=reporter.headers)
    assert (shown.json()["is_deleted"], shown.json()["content"]) == (True, None)
    thread_events = await owner_conn.fetch("SELECT event FROM realtime.events WHERE channel = $1",
                                           f"thread:{post_id}")
    assert "comment.deleted" in [r["event"] for r in thread_events]

    session = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration) "
        "VALUES ('room', $1, now() + interval '1 day', interval '1 hour') RETURNING id", author.user_id)
    await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
                             "VALUES ($1, $2, 'registered')", session, reporter.user_id)
    line = await owner_conn.fetchval(
        "INSERT INTO public.session_messages (session_id, author_id, kind, content) "
        "VALUES ($1, $2, 'chat', 'a line') RETURNING id", session, author.user_id)
    filed = await report(client, reporter.headers, "session_message", line, "abuse")
    assert (await resolve(client, boss, filed.json()["id"], "remove_content")).status_code == 200
    assert await owner_conn.fetchval("SELECT is_deleted FROM public.session_messages WHERE id = $1", line) is True
    room_events = await owner_conn.fetch("SELECT event, data FROM realtime.events WHERE channel = $1",
                                         f"session:{session}")
    assert [(r["event"], r["data"]) for r in room_events] == [("chat.deleted", {"id": str(line)})]


async def established_users(owner_conn: asyncpg.Connection, count: int, *, confirmed: bool = True
                            ) -> list[tuple[UUID, dict[str, str]]]:
    """`mint_users` whose accounts are two days old (past REPORT_HIDE_MIN_ACCOUNT_AGE_HOURS, 24 by default),
    with their email confirmed unless `confirmed` is false."""
    users = await mint_users(owner_conn, count)
    await establish(owner_conn, [user_id for user_id, _ in users], confirmed=confirmed)
    return users


async def establish(owner_conn: asyncpg.Connection, user_ids: list[UUID], *, confirmed: bool = True) -> None:
    """Makes the accounts two days old, their email confirmed unless `confirmed` is false."""
    await owner_conn.execute(
        "UPDATE auth.users SET created_at = now() - interval '2 days', "
        "email_confirmed_at = CASE WHEN $2 THEN now() - interval '2 days' END WHERE id = ANY($1)",
        user_ids, confirmed)


async def test_only_established_accounts_reports_hide_content_and_the_queue_shows_them_all(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Throwaway accounts (a day's signups) and unconfirmed ones cannot hide anyone's content: their reports
    do not count toward the threshold, but a moderator still sees them."""
    boss = await admin(client, owner_conn)
    author, bystander = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    fresh = [(account.user_id, account.headers) for account in [await signup(client) for _ in range(3)]]
    unconfirmed = await established_users(owner_conn, 3, confirmed=False)
    established = await established_users(owner_conn, 3)
    for _, headers in fresh + unconfirmed + established[:2]:
        assert (await report(client, headers, "post", post_id)).status_code == 201
    assert post_id in await feed_ids(client, bystander.headers), "8 reports, 2 of them counted"
    entry = await queue_entry(client, boss, post_id)
    assert entry is not None and (entry["report_count"], entry["content"]["hidden"]) == (8, False)

    assert (await report(client, established[2][1], "post", post_id)).status_code == 201
    assert post_id not in await feed_ids(client, bystander.headers)


async def test_reports_from_enough_users_hide_content_from_others_until_dismissed(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """The suite's REPORT_HIDE_THRESHOLD is the default, 3 distinct reporters."""
    boss = await admin(client, owner_conn)
    author, bystander = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    comment_id = (await client.post(f"/api/posts/{post_id}/comments", json={"content": "loud"},
                                    headers=author.headers)).json()["id"]
    reporters = await established_users(owner_conn, 3)
    for index, (_, headers) in enumerate(reporters):
        # the comment first: once its post is hidden, so are its comments
        assert (await report(client, headers, "comment", comment_id)).status_code == 201
        assert (await report(client, headers, "post", post_id)).status_code == 201
        if index < 2:  # below the threshold nothing is hidden
            assert post_id in await feed_ids(client, bystander.headers)

    assert post_id not in await feed_ids(client, bystander.headers)
    assert (await client.get(f"/api/posts/{post_id}", headers=bystander.headers)).status_code == 404
    assert (await client.get(f"/api/posts/{post_id}/comments", headers=bystander.headers)).status_code == 404
    assert (await client.get(f"/api/comments/{comment_id}", headers=bystander.headers)).status_code == 404
    # its author still sees both, and so do admins
    assert post_id in await feed_ids(client, author.headers)
    thread = await client.get(f"/api/posts/{post_id}/comments", headers=author.headers)
    assert [c["id"] for c in thread.json()["items"]] == [comment_id]
    assert (await client.get(f"/api/posts/{post_id}", headers=boss.headers)).status_code == 200
    entry = await queue_entry(client, boss, post_id)
    assert entry is not None and entry["content"]["hidden"] is True

    first_report = entry["reports"][0]["id"]
    assert (await resolve(client, boss, first_report, "dismiss", None)).status_code == 200
    assert post_id in await feed_ids(client, bystander.headers)
    # the comment's reports are still open: it stays hidden until they are resolved too
    assert (await client.get(f"/api/comments/{comment_id}", headers=bystander.headers)).status_code == 404
    comment_entry = await queue_entry(client, boss, comment_id)
    assert comment_entry is not None
    assert (await resolve(client, boss, comment_entry["reports"][0]["id"], "dismiss")).status_code == 200
    assert (await client.get(f"/api/comments/{comment_id}", headers=bystander.headers)).status_code == 200
    assert [r["details"]["action"] for r in await audit_rows(owner_conn, post_id)] == ["dismiss"]


async def test_ban_author_bans_for_the_configured_days_and_removes_the_content(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, reporter = await signup(client), await signup(client)
    post_id = await new_post(client, author)
    filed = await report(client, reporter.headers, "post", post_id, "spam")
    before = datetime.now(UTC)
    assert (await resolve(client, boss, filed.json()["id"], "ban_author", "spammer")).status_code == 200
    banned_until = await owner_conn.fetchval("SELECT banned_until FROM auth.users WHERE id = $1", author.user_id)
    assert before + timedelta(days=7) - timedelta(minutes=5) < banned_until < datetime.now(UTC) + timedelta(days=7)
    assert await owner_conn.fetchval("SELECT count(*) FROM public.community_posts WHERE id = $1", UUID(post_id)) == 0
    assert [(r["action"], r["reason"]) for r in await audit_rows(owner_conn, author.user_id)] == [
        ("user.ban", "spammer")]
    assert [(r["action"], r["details"]["action"]) for r in await audit_rows(owner_conn, post_id)] == [
        ("report.resolve", "ban_author")]
    # the ban is the account's: its token stops counting and login says until when
    assert (await client.get("/api/auth/me", headers=author.headers)).json()["code"] == "token_revoked"
    login = await client.post("/api/auth/login", json={"email": author.email, "password": author.password})
    assert (login.status_code, login.json()["code"]) == (403, "banned")
    assert datetime.fromisoformat(login.json()["until"]) == banned_until

    # a reported user: ban_author bans them; remove_content does not apply
    troll, other = await signup(client), await signup(client)
    filed = await report(client, other.headers, "user", troll.user_id, "abuse")
    refused = await resolve(client, boss, filed.json()["id"], "remove_content")
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    assert (await resolve(client, boss, filed.json()["id"], "ban_author")).status_code == 200
    assert await owner_conn.fetchval("SELECT banned_until > now() FROM auth.users WHERE id = $1",
                                     troll.user_id) is True


async def test_a_target_without_open_reports_is_a_conflict_and_an_unknown_report_not_found(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, reporter = await signup(client), await signup(client)
    filed = await report(client, reporter.headers, "post", await new_post(client, author))
    assert (await resolve(client, boss, filed.json()["id"], "dismiss")).status_code == 200
    again = await resolve(client, boss, filed.json()["id"], "remove_content")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    assert (await resolve(client, boss, str(UUID(int=9)), "dismiss")).status_code == 404


async def test_the_admin_report_routes_are_for_admins_only(client: httpx.AsyncClient) -> None:
    author, reporter = await signup(client), await signup(client)
    filed = await report(client, reporter.headers, "post", await new_post(client, author))
    for user in (author, reporter):
        assert (await client.get("/api/admin/reports", headers=user.headers)).status_code == 403
        refused = await client.post(f"/api/admin/reports/{filed.json()['id']}/resolve", headers=user.headers,
                                    json={"action": "dismiss"})
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (await client.get("/api/admin/reports")).status_code == 401


async def test_reports_are_a_per_user_budget(start_hub: HubStarter) -> None:
    namespace = start_hub.new_namespace("reports")
    with start_hub(rate_limit_scale=1, namespace=namespace, reports_per_hour=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            author, reporter = await signup(http), await signup(http)
            posts = [await new_post(http, author) for _ in range(3)]
            assert [(await report(http, reporter.headers, "post", p)).status_code for p in posts[:2]] == [201, 201]
            refused = await report(http, reporter.headers, "post", posts[2])
            assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
            assert int(refused.headers["Retry-After"]) > 0
            # another user's budget is their own
            assert (await report(http, (await signup(http)).headers, "post", posts[2])).status_code == 201


async def test_the_queue_pages_targets_by_their_newest_report(client: httpx.AsyncClient,
                                                              owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, first, second = await signup(client), await signup(client), await signup(client)
    older, newer = await new_post(client, author), await new_post(client, author)
    assert (await report(client, first.headers, "post", older)).status_code == 201
    assert (await report(client, first.headers, "post", newer)).status_code == 201
    # a later report on the older post makes it the newest target
    assert (await report(client, second.headers, "post", older)).status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    while len(seen) < 2:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/admin/reports", params=params, headers=boss.headers)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == 1
        seen += [g["target_id"] for g in page.json()["items"] if g["target_id"] in (older, newer)]
        cursor = page.json()["next_cursor"]
    assert seen == [older, newer]
    bad = await client.get("/api/admin/reports", params={"cursor": "not-a-cursor"}, headers=boss.headers)
    assert bad.status_code == 422


async def test_a_comment_on_a_hidden_post_is_not_readable_by_id(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, replier, bystander = await signup(client), await signup(client), await signup(client)
    post_id = await new_post(client, author)
    reply = await client.post(f"/api/posts/{post_id}/comments", json={"content": "quoting the hidden post"},
                              headers=replier.headers)
    for _, headers in await established_users(owner_conn, 3):
        assert (await report(client, headers, "post", post_id)).status_code == 201
    for reader in (bystander, replier):
        assert (await client.get(f"/api/comments/{reply.json()['id']}", headers=reader.headers)).status_code == 404
    assert (await client.get(f"/api/comments/{reply.json()['id']}", headers=author.headers)).status_code == 200


async def test_a_question_can_be_reported_and_removed_like_a_chat_line(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    author, reporter = await signup(client), await signup(client)
    session = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration) "
        "VALUES ('room', $1, now() + interval '1 day', interval '1 hour') RETURNING id", author.user_id)
    await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
                             "VALUES ($1, $2, 'registered')", session, reporter.user_id)
    messages = await owner_conn.fetch(
        "INSERT INTO public.session_messages (session_id, author_id, kind, content) "
        "VALUES ($1, $2, 'question', 'a loaded question'), ($1, $2, 'announcement', 'hello') RETURNING id, kind",
        session, author.user_id)
    ids = {row["kind"]: row["id"] for row in messages}
    assert (await report(client, reporter.headers, "session_message", ids["announcement"])).status_code == 404
    filed = await report(client, reporter.headers, "session_message", ids["question"], "abuse")
    assert filed.status_code == 201, filed.text
    assert (await resolve(client, boss, filed.json()["id"], "remove_content")).status_code == 200
    assert await owner_conn.fetchval("SELECT is_deleted FROM public.session_messages WHERE id = $1",
                                     ids["question"]) is True
