"""The caller's own data: the export document, and the deletion of the account (password, Stripe cancel,
personal data gone, content kept as "deleted user", tokens and sockets revoked)."""

from __future__ import annotations

import secrets
import uuid

import asyncpg
import httpx

from persistence import account_data
from tests.conftest import HubStarter
from tests.helpers.api import Account, admin, signup, with_role
from tests.helpers.stripe_stub import SECRET_KEY, WEBHOOK_SECRET, StripeStub, priced_plan, subscription_object
from tests.helpers.ws import ProtocolClient
from tests.integration.test_sessions import create_session


async def a_post(client: httpx.AsyncClient, account: Account, title: str) -> dict[str, str]:
    response = await client.post("/api/posts", json={"title": title, "content": "text"}, headers=account.headers)
    assert response.status_code == 201, response.text
    post: dict[str, str] = response.json()
    return post


async def test_the_export_holds_the_callers_data_by_section_and_nobody_elses(client: httpx.AsyncClient) -> None:
    me = await signup(client, full_name="Exporter")
    other = await signup(client, full_name="Someone Else")
    mine = await a_post(client, me, "my post")
    theirs = await a_post(client, other, "their post")
    comment = await client.post(f"/api/posts/{theirs['id']}/comments", json={"content": "my comment"},
                                headers=me.headers)
    assert comment.status_code == 201
    assert (await client.put(f"/api/posts/{theirs['id']}/vote", json={"vote_type": "upvote"},
                             headers=me.headers)).status_code == 200
    replied = await client.post(f"/api/posts/{mine['id']}/comments", json={"content": "their reply"},
                                headers=other.headers)
    assert replied.status_code == 201
    assert (await client.patch("/api/me/notification-settings", json={"email": {"post.reply": False}},
                               headers=me.headers)).status_code == 200
    assert (await client.post(f"/api/users/{other.user_id}/block", headers=me.headers)).status_code == 204

    response = await client.get("/api/me/export", headers=me.headers)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["account"]["email"] == me.email and document["profile"]["full_name"] == "Exporter"
    assert [p["id"] for p in document["posts"]["rows"]] == [mine["id"]]
    assert [c["content"] for c in document["comments"]["rows"]] == ["my comment"]
    assert [v["target_id"] for v in document["votes"]["rows"]] == [theirs["id"]]
    assert [b["blocked_id"] for b in document["blocks"]["rows"]] == [str(other.user_id)]
    assert [n["kind"] for n in document["notifications"]["rows"]] == ["post.reply"]
    assert {"kind": "post.reply", "email": False} in document["notification_settings"]["rows"]
    assert {a["activity_type"] for a in document["activity"]["rows"]} >= {"post_create"}
    assert not any(section["truncated"] for section in document.values() if isinstance(section, dict)
                   and "truncated" in section)
    assert document["rows_per_section"] == 10_000
    assert (await client.get("/api/me/export")).status_code == 401


async def test_exports_are_rate_limited_per_user(start_hub: HubStarter) -> None:
    with start_hub(rate_limit_scale=1, exports_per_hour=2, namespace=start_hub.new_namespace("exports")) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            me = await signup(client)
            answers = [(await client.get("/api/me/export", headers=me.headers)) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]
            assert answers[2].json()["code"] == "rate_limited" and int(answers[2].headers["Retry-After"]) > 0
            other = await signup(client)
            assert (await client.get("/api/me/export", headers=other.headers)).status_code == 200


async def test_a_deleted_account_cannot_sign_in_its_content_shows_a_deleted_user_and_others_are_untouched(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    gone = await signup(client, full_name="Leaving Person")
    stays = await signup(client, full_name="Staying Person")
    post = await a_post(client, gone, "a post that stays")
    reply = await client.post(f"/api/posts/{post['id']}/comments", json={"content": "a reply"}, headers=stays.headers)
    assert reply.status_code == 201
    await client.patch("/api/profiles/me", json={"bio": "my private bio"}, headers=gone.headers)
    before = (await client.get("/api/me/export", headers=stays.headers)).json()
    ws = await ProtocolClient.open(hub_url, gone.access_token)

    wrong = await client.request("DELETE", "/api/me", json={"password": "not my password"}, headers=gone.headers)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    deleted = await client.request("DELETE", "/api/me", json={"password": gone.password}, headers=gone.headers)
    assert deleted.status_code == 204, deleted.text

    assert await ws.wait_closed() == 4003
    assert (await client.get("/api/auth/me", headers=gone.headers)).json()["code"] == "token_revoked"
    login = await client.post("/api/auth/login", json={"email": gone.email, "password": gone.password})
    assert (login.status_code, login.json()["code"]) == (401, "invalid_credentials")
    assert (await client.post("/api/auth/refresh", json={"refresh_token": gone.refresh_token})).status_code == 401

    shown = (await client.get(f"/api/posts/{post['id']}", headers=stays.headers)).json()
    assert (shown["title"], shown["author"]["full_name"], shown["author"]["avatar_url"]) == (
        "a post that stays", "deleted user", None)
    row = await owner_conn.fetchrow(
        "SELECT u.email, u.encrypted_password, u.raw_user_meta_data, u.deleted_at, p.bio "
        "FROM auth.users u JOIN public.user_profiles p ON p.id = u.id WHERE u.id = $1", gone.user_id)
    assert row["email"] == f"deleted-{gone.user_id}@deleted.invalid"
    assert (row["encrypted_password"], row["raw_user_meta_data"], row["bio"]) == (None, {}, None)
    assert await owner_conn.fetchval("SELECT count(*) FROM public.notifications WHERE user_id = $1",
                                     gone.user_id) == 0, "the reply's notification went with the account"
    assert row["deleted_at"] is not None
    assert await owner_conn.fetchval("SELECT count(*) FROM private.refresh_tokens WHERE user_id = $1",
                                     gone.user_id) == 0

    after = (await client.get("/api/me/export", headers=stays.headers)).json()
    assert after["comments"] == before["comments"] and after["profile"] == before["profile"]
    # The address is free again; the new account is a different one.
    again = await signup(client, email=gone.email)
    assert again.user_id != gone.user_id


async def test_deleting_an_account_cancels_its_stripe_subscription_first(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(http, (await admin(http, owner_conn)).headers)
    account = await signup(http)
    subscription_id = f"sub_{secrets.token_hex(8)}"
    stub.subscriptions[subscription_id] = subscription_object(
        subscription_id, customer=f"cus_{secrets.token_hex(6)}", price=plan["stripe_price_id"], status="active")
    await owner_conn.execute(
        "INSERT INTO public.user_subscriptions (user_id, plan_id, stripe_subscription_id, status) "
        "VALUES ($1, $2, $3, 'active')", account.user_id, plan["id"], subscription_id)

    deleted = await http.request("DELETE", "/api/me", json={"password": account.password}, headers=account.headers)
    assert deleted.status_code == 204, deleted.text
    assert len(stub.received("DELETE", f"/v1/subscriptions/{subscription_id}")) == 1
    assert stub.subscriptions[subscription_id]["status"] == "canceled"


async def test_a_stripe_failure_refuses_the_deletion_and_deletes_nothing(
        start_hub: HubStarter, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(client, (await admin(client, owner_conn)).headers)
    account = await signup(client)
    await owner_conn.execute(
        "INSERT INTO public.user_subscriptions (user_id, plan_id, stripe_subscription_id, status) "
        "VALUES ($1, $2, $3, 'active')", account.user_id, plan["id"], f"sub_{secrets.token_hex(8)}")
    with start_hub(stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
                   stripe_api_base="http://127.0.0.1:9") as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as down:
            refused = await down.request("DELETE", "/api/me", json={"password": account.password},
                                         headers=account.headers)
    assert (refused.status_code, refused.json()["code"]) == (502, "stripe_unavailable")
    assert await owner_conn.fetchval("SELECT deleted_at FROM auth.users WHERE id = $1", account.user_id) is None
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 200


async def test_a_deleted_accounts_name_leaves_others_notifications_and_every_logged_view(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    name = f"Leaving {secrets.token_hex(6)}"
    gone, stays = await signup(client, full_name=name), await signup(client)
    avatar = await client.patch("/api/profiles/me", json={"avatar_url": "https://example.com/leaving.png"},
                                headers=gone.headers)
    assert avatar.status_code == 200, avatar.text
    theirs, mine = await a_post(client, stays, "their post"), await a_post(client, gone, "my post")
    for post_id, account in ((theirs["id"], gone), (mine["id"], stays)):
        replied = await client.post(f"/api/posts/{post_id}/comments", json={"content": "a reply"},
                                    headers=account.headers)
        assert replied.status_code == 201, replied.text
    own_channel = f"user:{gone.user_id}"
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE channel = $1", own_channel) > 0
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE data::text LIKE $1", f"%{name}%")

    deleted = await client.request("DELETE", "/api/me", json={"password": gone.password}, headers=gone.headers)
    assert deleted.status_code == 204, deleted.text

    assert await owner_conn.fetch("SELECT channel, event FROM realtime.events WHERE data::text LIKE $1 "
                                  "OR data::text LIKE '%leaving.png%'", f"%{name}%") == []
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE channel = $1", own_channel) == 0
    note = (await client.get("/api/notifications", headers=stays.headers)).json()["items"][0]["data"]
    assert (note["author_id"], note["author_name"]) == (str(gone.user_id), "deleted user")
    logged = await owner_conn.fetchval(
        "SELECT data -> 'data' FROM realtime.events WHERE channel = $1 AND event = 'notification.created'",
        f"user:{stays.user_id}")
    assert logged["author_name"] == "deleted user"
    history = await client.get(f"/api/channels/thread:{theirs['id']}/events", headers=stays.headers)
    assert history.status_code == 200, history.text
    authors = [e["data"]["author"] for e in history.json()["items"] if "author" in e["data"]]
    assert {"id": str(gone.user_id), "full_name": "deleted user", "avatar_url": None} in authors


async def test_erasure_finds_a_users_notifications_and_logged_views_through_indexes(
        owner_conn: asyncpg.Connection) -> None:
    """The log and the inboxes grow with every user: an erasure must not scan them, planned generic (as a
    prepared statement runs once it is reused). The run's inboxes are small, where a scan is cheapest: with
    scans priced out the plan shows whether an index serves the statement at all."""
    channel = f"thread:{uuid.uuid4()}"
    await owner_conn.execute(
        """INSERT INTO realtime.events (channel, seq, event, data)
           SELECT $1, n, 'comment.created', jsonb_build_object('id', gen_random_uuid(), 'content', 'x',
                  'author', jsonb_build_object('id', gen_random_uuid(), 'full_name', 'x', 'avatar_url', null))
           FROM generate_series(1, 5000) n""", channel)
    try:
        await owner_conn.execute("ANALYZE realtime.events")
        await owner_conn.execute("ANALYZE public.notifications")
        plans = []
        async with owner_conn.transaction():
            await owner_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await owner_conn.execute("SET LOCAL enable_seqscan = off")
            for name, statement in (("rename_notes", account_data.RENAME_IN_NOTIFICATIONS),
                                    ("rename_log", account_data.RENAME_IN_LOG)):
                await owner_conn.execute(f"PREPARE {name}(uuid) AS {statement}")
                plans.append("\n".join(r[0] for r in await owner_conn.fetch(
                    f"EXPLAIN EXECUTE {name}('{uuid.uuid4()}')")))
                await owner_conn.execute(f"DEALLOCATE {name}")
    finally:
        await owner_conn.execute("DELETE FROM realtime.events WHERE channel = $1", channel)
    assert "idx_notifications_author" in plans[0] and "Seq Scan on notifications" not in plans[0], plans[0]
    assert all(f"idx_realtime_events_{key}" in plans[1] for key in ("author", "host", "user")), plans[1]
    assert "Seq Scan" not in plans[1], plans[1]


async def test_a_deleted_hosts_name_leaves_its_sessions_logged_views(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    name = f"Hosting {secrets.token_hex(6)}"
    host = await with_role(client, owner_conn, await signup(client, full_name=name), "host")
    session = await create_session(client, host)
    updated = await client.patch(f"/api/sessions/{session['id']}", json={"title": "renamed"}, headers=host.headers)
    assert updated.status_code == 200, updated.text
    channel = f"session:{session['id']}"
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE channel = $1 AND data::text LIKE $2",
                                     channel, f"%{name}%")

    deleted = await client.request("DELETE", "/api/me", json={"password": host.password}, headers=host.headers)
    assert deleted.status_code == 204, deleted.text

    hosts = [r["host"] for r in await owner_conn.fetch(
        "SELECT data -> 'host' AS host FROM realtime.events WHERE channel = $1 AND data ? 'host'", channel)]
    assert hosts and all(h == {"id": str(host.user_id), "full_name": "deleted user", "avatar_url": None}
                         for h in hosts), hosts
