"""Mailed links end to end (signup → mail at the local SMTP server → link → API): email verification and the
write gate, password recovery and reset, email change."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import HubStarter
from tests.helpers.api import Account, login, signup
from tests.helpers.eventually import eventually
from tests.helpers.mailbox import Mailbox, link_in
from tests.integration.test_live_room import error_code, joined, publish
from tests.integration.test_sessions import host_account


def token_of(link: str, route: str) -> str:
    assert f"/#/{route}?token=" in link, link
    return link.split("?token=", 1)[1]


async def mailed_token(mailbox: Mailbox, to: str, subject: str, route: str, *, nth: int = 1) -> str:
    await mailbox.wait_until(lambda: len([m for m in mailbox.messages_to(to) if subject in str(m["Subject"])]) >= nth,
                             10.0, f"mail {nth} to {to} ({subject})")
    message = [m for m in mailbox.messages_to(to) if subject in str(m["Subject"])][nth - 1]
    return token_of(link_in(message), route)


def new_email() -> str:
    return f"links-{secrets.token_hex(6)}@example.com"


@pytest.fixture(scope="module")
def gated_url(start_hub: HubStarter) -> Iterator[str]:
    with start_hub(require_email_verification=True) as url:
        yield url


@pytest.fixture
async def gated(gated_url: str) -> Any:
    async with httpx.AsyncClient(base_url=gated_url, timeout=30) as client:
        yield client


def code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code") if response.content else None


async def a_post(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/posts", json={"title": "hello", "content": "first post"},
                             headers={"Authorization": f"Bearer {token}"})


# ------------------------------------------------------------------------------------------- verification

async def test_a_new_account_cannot_post_until_its_mailed_link_verifies_it(
        gated: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection) -> None:
    account = await signup(gated, email=new_email())
    me = (await gated.get("/api/auth/me", headers=account.headers)).json()
    assert me["email_confirmed_at"] is None
    assert code(await a_post(gated, account.access_token)) == (403, "email_unverified")
    some_id = str(uuid.uuid4())
    writes = [
        ("PUT", f"/api/posts/{some_id}/vote", {"vote_type": "upvote"}),
        ("POST", f"/api/posts/{some_id}/comments", {"content": "hi"}),
        ("POST", f"/api/sessions/{some_id}/registration", None),
        ("POST", "/api/reports", {"target_type": "post", "target_id": some_id, "reason": "spam"}),
    ]
    for method, path, body in writes:
        refused = await gated.request(method, path, json=body, headers=account.headers)
        assert code(refused) == (403, "email_unverified"), path
    # Reading stays open.
    assert (await gated.get("/api/posts", headers=account.headers)).status_code == 200

    token = await mailed_token(mailbox, account.email, "Confirm your email", "verify")
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 bits
    stored = await owner_conn.fetchval("SELECT confirmation_token FROM auth.users WHERE id = $1", account.user_id)
    assert stored == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept

    verified = await gated.post("/api/auth/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["email_confirmed_at"] is not None
    fresh = verified.json()["access_token"]
    assert (await a_post(gated, fresh)).status_code == 201
    # A token issued before the verification stays gated until it is refreshed.
    assert code(await a_post(gated, account.access_token)) == (403, "email_unverified")
    refreshed = await gated.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert (await a_post(gated, refreshed.json()["access_token"])).status_code == 201
    me = (await gated.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"})).json()
    assert me["email_confirmed_at"] is not None

    assert code(await gated.post("/api/auth/verify", json={"token": token})) == (400, "invalid_token")
    assert code(await gated.post("/api/auth/verify/resend", headers=account.headers)) == (409, "already_done")


async def test_a_resent_link_replaces_the_first_and_expired_or_unknown_tokens_are_invalid(
        gated: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection) -> None:
    account = await signup(gated, email=new_email())
    first = await mailed_token(mailbox, account.email, "Confirm your email", "verify")
    assert (await gated.post("/api/auth/verify/resend", headers=account.headers)).status_code == 202
    second = await mailed_token(mailbox, account.email, "Confirm your email", "verify", nth=2)
    assert second != first
    assert code(await gated.post("/api/auth/verify", json={"token": first})) == (400, "invalid_token")
    assert code(await gated.post("/api/auth/verify", json={"token": "x" * 43})) == (400, "invalid_token")
    await owner_conn.execute("UPDATE auth.users SET confirmation_sent_at = now() - interval '25 hours' "
                             "WHERE id = $1", account.user_id)
    assert code(await gated.post("/api/auth/verify", json={"token": second})) == (400, "invalid_token")


async def test_an_unverified_account_may_raise_a_hand_but_not_chat_in_a_live_room(
        gated_url: str, gated: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(gated, owner_conn)
    member = await signup(gated, email=new_email())
    session_id = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
        "VALUES ('gate', $1, now(), interval '1 hour', 'live') RETURNING id::text", host.user_id)
    await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id) VALUES ($1::uuid, $2)",
                             session_id, member.user_id)
    channel = f"session:{session_id}"
    ws, _ = await joined(gated_url, member.access_token, channel)
    try:
        assert error_code(await publish(ws, channel, "chat.message", {"text": "hi"})) == "email_unverified"
        assert error_code(await publish(ws, channel, "question.ask", {"text": "why?"})) == "email_unverified"
        assert error_code(await publish(ws, channel, "hand.raise", {})) is None
    finally:
        await ws.close()


async def test_without_the_gate_signup_still_mails_a_link_that_verifies(
        client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await signup(client, email=new_email())
    assert (await a_post(client, account.access_token)).status_code == 201
    token = await mailed_token(mailbox, account.email, "Confirm your email", "verify")
    assert (await client.post("/api/auth/verify", json={"token": token})).status_code == 200
    me = (await client.get("/api/auth/me", headers=account.headers)).json()
    assert me["email_confirmed_at"] is not None


# --------------------------------------------------------------------------------------------- recovery

async def test_a_reset_link_sets_the_password_once_and_ends_every_older_token(
        client: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client, email=new_email())
    other_device = await login(client, Account(**vars(account)))
    assert (await client.post("/api/auth/recover", json={"email": account.email.upper()})).status_code == 202
    token = await mailed_token(mailbox, account.email, "Reset your password", "reset")
    stored = await owner_conn.fetchval("SELECT recovery_token FROM auth.users WHERE id = $1", account.user_id)
    assert stored == hashlib.sha256(token.encode()).hexdigest()

    reset = await client.post("/api/auth/reset", json={"token": token, "password": "a new password 2"})
    assert reset.status_code == 200, reset.text
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {reset.json()['access_token']}"})
            ).status_code == 200
    old = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert code(old) == (401, "invalid_credentials")
    new = await client.post("/api/auth/login", json={"email": account.email, "password": "a new password 2"})
    assert new.status_code == 200

    async def revoked() -> bool:
        answers = [await client.get("/api/auth/me", headers=a.headers) for a in (account, other_device)]
        return all(code(a) == (401, "token_revoked") for a in answers)

    await eventually(revoked, within=2.0, what="every older access token answering token_revoked")
    for refresh_token in (account.refresh_token, other_device.refresh_token):
        assert (await client.post("/api/auth/refresh", json={"refresh_token": refresh_token})).status_code == 401
    again = await client.post("/api/auth/reset", json={"token": token, "password": "a third password 3"})
    assert code(again) == (400, "invalid_token")


async def test_an_expired_reset_link_is_invalid_and_keeps_the_password(
        client: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client, email=new_email())
    await client.post("/api/auth/recover", json={"email": account.email})
    token = await mailed_token(mailbox, account.email, "Reset your password", "reset")
    await owner_conn.execute("UPDATE auth.users SET recovery_sent_at = now() - interval '61 minutes' WHERE id = $1",
                             account.user_id)
    expired = await client.post("/api/auth/reset", json={"token": token, "password": "a new password 2"})
    assert code(expired) == (400, "invalid_token")
    await login(client, account)


async def test_recover_for_an_unknown_email_answers_202_and_mails_nothing(
        client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    unknown = new_email()
    answer = await client.post("/api/auth/recover", json={"email": unknown})
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    known = await signup(client, email=new_email())
    await client.post("/api/auth/recover", json={"email": known.email})
    await mailed_token(mailbox, known.email, "Reset your password", "reset")  # queued after the unknown one
    assert mailbox.attempts_to(unknown) == 0


async def test_recover_does_the_same_work_whether_or_not_the_account_exists(
        client: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection) -> None:
    """The request only queues a job carrying the address (its timing cannot tell the two apart); the job
    makes the token, so the plain token is in the mail alone, and mails only an existing account."""
    unknown = new_email()
    known = await signup(client, email=new_email())
    for email in (unknown, known.email):
        assert (await client.post("/api/auth/recover", json={"email": email})).status_code == 202
    jobs = await owner_conn.fetch(
        "SELECT payload::text AS payload FROM private.jobs "
        "WHERE kind = 'account.recover' AND payload->>'email' = ANY($1)", [unknown, known.email])
    assert sorted(job["payload"] for job in jobs) == sorted(f'{{"email": "{e}"}}' for e in (unknown, known.email))

    async def both_done() -> bool:
        done: int = await owner_conn.fetchval(
            "SELECT count(*) FROM private.jobs WHERE kind = 'account.recover' AND status = 'done' "
            "AND payload->>'email' = ANY($1)", [unknown, known.email])
        return done == 2

    await eventually(both_done, what="both recover jobs done")
    token = await mailed_token(mailbox, known.email, "Reset your password", "reset")
    assert (await client.post("/api/auth/reset", json={"token": token, "password": "a new pass 123"})
            ).status_code == 200
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM private.jobs WHERE kind = 'mail.send' AND payload->>'to' = $1", unknown) == 0
    assert mailbox.attempts_to(unknown) == 0


async def test_recover_is_rate_limited_per_email_whether_or_not_it_has_an_account(
        start_hub: HubStarter) -> None:
    with start_hub(rate_limit_scale=1, recoveries_per_hour=2,
                   namespace=start_hub.new_namespace("recover")) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            unknown = new_email()
            answers = [(await client.post("/api/auth/recover", json={"email": unknown})).status_code
                       for _ in range(3)]
            assert answers == [202, 202, 429]
            assert (await client.post("/api/auth/recover", json={"email": new_email()})).status_code == 202


# ----------------------------------------------------------------------------------------- email change

async def test_an_email_change_takes_effect_from_the_new_addresses_link_and_tells_the_old_one(
        client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await signup(client, email=new_email())
    taken = await signup(client, email=new_email())
    wrong = await client.post("/api/auth/email", json={"new_email": new_email(), "password": "not it at all"},
                              headers=account.headers)
    assert code(wrong) == (401, "invalid_credentials")
    clash = await client.post("/api/auth/email", json={"new_email": taken.email, "password": account.password},
                              headers=account.headers)
    assert code(clash) == (409, "email_taken")

    await client.post("/api/auth/recover", json={"email": account.email})
    old_reset = await mailed_token(mailbox, account.email, "Reset your password", "reset")
    target = new_email()
    asked = await client.post("/api/auth/email", json={"new_email": target, "password": account.password},
                              headers=account.headers)
    assert asked.status_code == 202
    token = await mailed_token(mailbox, target, "Confirm your new email", "email/confirm")
    confirmed = await client.post("/api/auth/email/confirm", json={"token": token})
    assert (confirmed.status_code, confirmed.json()) == (200, {"email": target})
    notice = await mailbox.wait_for(account.email, subject_contains="was changed")
    assert target in notice.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert code(await client.post("/api/auth/email/confirm", json={"token": token})) == (400, "invalid_token")
    # A reset link mailed to the old address before the change no longer works.
    stale = await client.post("/api/auth/reset", json={"token": old_reset, "password": "taken over 123"})
    assert code(stale) == (400, "invalid_token")
    old = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert code(old) == (401, "invalid_credentials")
    assert (await client.post("/api/auth/login", json={"email": target, "password": account.password})
            ).status_code == 200


async def test_an_email_change_to_an_address_taken_meanwhile_is_email_taken(
        client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await signup(client, email=new_email())
    target = new_email()
    await client.post("/api/auth/email", json={"new_email": target, "password": account.password},
                      headers=account.headers)
    token = await mailed_token(mailbox, target, "Confirm your new email", "email/confirm")
    await signup(client, email=target)
    assert code(await client.post("/api/auth/email/confirm", json={"token": token})) == (409, "email_taken")


async def _reset_the_password(client: httpx.AsyncClient, mailbox: Mailbox, account: Account,
                              owner_conn: asyncpg.Connection) -> None:
    assert (await client.post("/api/auth/recover", json={"email": account.email})).status_code == 202
    token = await mailed_token(mailbox, account.email, "Reset your password", "reset")
    assert (await client.post("/api/auth/reset", json={"token": token, "password": "owner's new pass 1"})
            ).status_code == 200


async def _change_the_password(client: httpx.AsyncClient, mailbox: Mailbox, account: Account,
                               owner_conn: asyncpg.Connection) -> None:
    changed = await client.post("/api/auth/password", headers=account.headers,
                                json={"current_password": account.password, "new_password": "owner's new pass 1"})
    assert changed.status_code == 200, changed.text


async def _log_out_everywhere(client: httpx.AsyncClient, mailbox: Mailbox, account: Account,
                              owner_conn: asyncpg.Connection) -> None:
    assert (await client.post("/api/auth/logout-all", headers=account.headers)).status_code == 204


async def _ban(client: httpx.AsyncClient, mailbox: Mailbox, account: Account,
               owner_conn: asyncpg.Connection) -> None:
    # The admin API and the report queue write the same column; the trigger of migration 0027 acts on it.
    await owner_conn.execute("UPDATE auth.users SET banned_until = now() + interval '1 hour' WHERE id = $1",
                             account.user_id)


@pytest.mark.parametrize("end_sessions", [_reset_the_password, _change_the_password, _log_out_everywhere, _ban],
                         ids=["password reset", "password change", "logout-all", "ban"])
async def test_signing_out_everywhere_voids_a_pending_email_change(
        client: httpx.AsyncClient, mailbox: Mailbox, owner_conn: asyncpg.Connection, end_sessions: Any) -> None:
    """Whoever holds the password can start moving the account to their own address; the owner's reset,
    password change, logout-all (or a ban) must stop that link from working."""
    victim = await signup(client, email=new_email())
    attacker_mail = new_email()
    asked = await client.post("/api/auth/email", json={"new_email": attacker_mail, "password": victim.password},
                              headers=victim.headers)
    assert asked.status_code == 202
    change = await mailed_token(mailbox, attacker_mail, "Confirm your new email", "email/confirm")
    await end_sessions(client, mailbox, victim, owner_conn)
    confirmed = await client.post("/api/auth/email/confirm", json={"token": change})
    assert code(confirmed) == (400, "invalid_token"), confirmed.text
    assert await owner_conn.fetchval("SELECT email FROM auth.users WHERE id = $1", victim.user_id) == victim.email


async def test_requesting_an_email_change_tells_the_old_address_at_once(
        client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    account = await signup(client, email=new_email())
    target = new_email()
    asked = await client.post("/api/auth/email", json={"new_email": target, "password": account.password},
                              headers=account.headers)
    assert asked.status_code == 202
    notice = await mailbox.wait_for(account.email, subject_contains="change of your email address was asked")
    text = notice.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert target in text
    assert "?token=" not in text, "the link goes to the new address only"
