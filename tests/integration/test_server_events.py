"""`POST /api/admin/channels/{channel}/events`: admins and the service key append durable events that
subscribers receive in sequence; idempotent with a key; bad names, data and channels refused."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from hub.client import HubClient
from tests.conftest import HubStarter
from tests.helpers.api import Account, admin, signup
from tests.helpers.ws import next_durable, ws_url

SERVICE_KEY = secrets.token_urlsafe(32)
SERVICE = {"Authorization": f"Bearer {SERVICE_KEY}"}


@pytest.fixture(scope="module")
def keyed_url(start_hub: HubStarter) -> Iterator[str]:
    with start_hub(service_key=SERVICE_KEY) as url:
        yield url


@pytest.fixture
async def keyed(keyed_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=keyed_url, timeout=30) as client:
        yield client


def events_path(channel: str) -> str:
    return f"/api/admin/channels/{channel}/events"


def code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code") if response.content else None


async def audit_rows(client: httpx.AsyncClient, boss: Account, channel: str) -> list[dict[str, Any]]:
    page = (await client.get("/api/admin/audit", params={"limit": 100}, headers=boss.headers)).json()
    return [row for row in page["items"] if row["target_id"] == channel]


async def test_an_admins_event_reaches_subscribers_on_both_hubs_with_the_next_seq_and_is_audited(
        keyed: httpx.AsyncClient, keyed_url: str, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(keyed, owner_conn)
    member = await signup(keyed)
    channel = f"user:{member.user_id}"
    # One subscriber on the hub that takes the publish, one on another hub (its own listener) of the same database.
    async with (HubClient(ws_url(keyed_url), token=member.access_token) as on_keyed,
                HubClient(ws_url(hub_url), token=member.access_token) as on_other):
        subscribers = [await on_keyed.subscribe(channel), await on_other.subscribe(channel)]
        [head] = {subscriber.last_seq for subscriber in subscribers}
        assert head is not None
        sent = await keyed.post(events_path(channel), json={"event": "billing.reminder", "data": {"days": 3}},
                                headers=boss.headers)
        assert sent.status_code == 201, sent.text
        assert sent.json() == {"channel": channel, "seq": head + 1, "event": "billing.reminder"}
        for subscriber in subscribers:
            [event] = await next_durable(subscriber, 1)
            assert (event.seq, event.event, event.data) == (head + 1, "billing.reminder", {"days": 3})
    [row] = await audit_rows(keyed, boss, channel)
    assert (row["action"], row["actor_id"], row["details"]) == (
        "channel.event", str(boss.user_id), {"event": "billing.reminder", "seq": head + 1})


async def test_the_service_key_publishes_unattributed_and_other_bearers_are_refused(
        keyed: httpx.AsyncClient, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(keyed, owner_conn)
    channel = f"thread:{uuid.uuid4()}"
    body = {"event": "build.finished", "data": {"ok": True}}
    sent = await keyed.post(events_path(channel), json=body, headers=SERVICE)
    assert (sent.status_code, sent.json()["seq"]) == (201, 1), sent.text
    [row] = await audit_rows(keyed, boss, channel)
    assert (row["action"], row["actor_id"]) == ("channel.event", None)

    member = await signup(keyed)
    assert code(await keyed.post(events_path(channel), json=body)) == (401, "unauthorized")
    assert code(await keyed.post(events_path(channel), json=body,
                                 headers={"Authorization": f"Bearer {SERVICE_KEY}x"}))[0] == 401
    assert code(await keyed.post(events_path(channel), json=body, headers=member.headers)) == (403, "forbidden")
    # A hub without HUB_SERVICE_KEY takes no key at all.
    assert code(await client.post(events_path(channel), json=body, headers=SERVICE))[0] == 401


async def test_any_name_of_the_pattern_is_taken_the_hubs_own_included(keyed: httpx.AsyncClient) -> None:
    """The contract: `event` is any name matching the pattern; the hub's own names are not set apart."""
    for channel, event in (("feed", "post.deleted"), (f"session:{uuid.uuid4()}", "announcement")):
        sent = await keyed.post(events_path(channel), json={"event": event, "data": {"id": "x"}}, headers=SERVICE)
        assert (sent.status_code, sent.json()["event"]) == (201, event), sent.text


@pytest.mark.parametrize("caller", ["admin", "service"])
async def test_an_idempotency_key_replay_answers_the_first_seq_and_appends_once(
        keyed: httpx.AsyncClient, owner_conn: asyncpg.Connection, caller: str) -> None:
    boss = await admin(keyed, owner_conn)
    member = await signup(keyed)
    channel = f"user:{member.user_id}"
    headers = {**(boss.headers if caller == "admin" else SERVICE), "Idempotency-Key": secrets.token_hex(8)}
    body = {"event": "report.ready", "data": {"id": 7}}
    first = await keyed.post(events_path(channel), json=body, headers=headers)
    again = await keyed.post(events_path(channel), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    other = await keyed.post(events_path(channel), json={**body, "data": {"id": 8}}, headers=headers)
    assert code(other) == (422, "idempotency_key_reused")
    log = (await keyed.get(f"/api/channels/{channel}/events", headers=member.headers)).json()
    assert [(item["seq"], item["event"]) for item in log["items"]] == [(first.json()["seq"], "report.ready")]


@pytest.mark.parametrize(("channel", "body", "expected"), [
    ("feed", {"event": "Upper", "data": {}}, (422, "validation_failed")),
    ("feed", {"event": "9lives", "data": {}}, (422, "validation_failed")),
    ("feed", {"event": "a-b", "data": {}}, (422, "validation_failed")),
    ("feed", {"event": "a" * 65, "data": {}}, (422, "validation_failed")),
    ("feed", {"event": "ok", "data": [1]}, (422, "validation_failed")),
    ("feed", {"event": "ok", "data": "text"}, (422, "validation_failed")),
    ("feed", {"event": "ok"}, (422, "validation_failed")),
    ("feed", {"event": "ok", "data": {"x": "y" * 8200}}, (422, "validation_failed")),
    ("feed", {"event": "ok", "data": {}, "extra": 1}, (422, "validation_failed")),
    ("nope", {"event": "ok", "data": {}}, (422, "unknown_channel")),
    ("thread:not-a-uuid", {"event": "ok", "data": {}}, (422, "unknown_channel")),
    (f"votes:{uuid.uuid4()}", {"event": "ok", "data": {}}, (409, "conflict")),
    ("leaderboard:weekly", {"event": "ok", "data": {}}, (409, "conflict")),
])
async def test_bad_names_data_and_channels_are_refused_and_append_nothing(
        keyed: httpx.AsyncClient, channel: str, body: dict[str, Any], expected: tuple[int, str]) -> None:
    head = (await keyed.post(events_path("feed"), json={"event": "probe", "data": {}}, headers=SERVICE)).json()["seq"]
    assert code(await keyed.post(events_path(channel), json=body, headers=SERVICE)) == expected
    after = (await keyed.post(events_path("feed"), json={"event": "probe", "data": {}}, headers=SERVICE)).json()
    assert after["seq"] == head + 1


async def test_a_non_admin_learns_nothing_about_the_channel_or_body(keyed: httpx.AsyncClient) -> None:
    member = await signup(keyed)
    assert code(await keyed.post(events_path("nope"), json={"event": "Bad"}, headers=member.headers)) == (
        403, "forbidden")


async def test_the_service_key_has_one_budget_and_a_replay_spends_none_of_it(start_hub: HubStarter) -> None:
    with start_hub(service_key=SERVICE_KEY, rate_limit_scale=1, server_publishes_per_minute=2,
                   namespace=start_hub.new_namespace("server-events")) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            keyed_headers = {**SERVICE, "Idempotency-Key": secrets.token_hex(8)}
            body = {"event": "tick", "data": {}}
            first = await http.post(events_path("feed"), json=body, headers=keyed_headers)
            second = await http.post(events_path("feed"), json=body, headers=SERVICE)
            assert (first.status_code, second.status_code) == (201, 201)
            over = await http.post(events_path("feed"), json=body, headers=SERVICE)
            assert code(over) == (429, "rate_limited") and int(over.headers["Retry-After"]) >= 1
            replay = await http.post(events_path("feed"), json=body, headers=keyed_headers)
            assert (replay.status_code, replay.json()) == (201, first.json())
