"""Abuse budgets over a real server: signup per address and globally, login failures per address (seen
through a trusted proxy) and per account (exponential backoff), and per-user creation budgets for posts,
comments, votes and room messages, counted across instances in Redis.

The suite's shared hub scales every budget out of the way (`RATE_LIMIT_SCALE` in `base_settings`) and gives
accounts 1000 free failures; each test here starts a hub with `rate_limit_scale=1`, small budgets, and a
Redis namespace of its own (under the run's, removed at the end) so no other test's counters leak in.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from hub.services import Services
from tests.conftest import HubStarter
from tests.helpers.api import Account, signup
from tests.integration.test_live_room import error_code, joined, live_room, publish
from tests.integration.test_sessions import host_account

ROUTER = "127.0.0.2"  # a platform router in front of the hub: the TCP peer of every request through it


@contextmanager
def budget_hub(start_hub: HubStarter, **changes: Any) -> Iterator[tuple[str, str]]:
    """A hub with unscaled budgets and fresh counters: (url, Redis namespace)."""
    namespace = start_hub.new_namespace("budgets")
    with start_hub(**{"rate_limit_scale": 1, "namespace": namespace, **changes}) as url:
        yield url, namespace


async def until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.005)


@asynccontextmanager
async def via_router(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from the router's address (127.0.0.0/8 is all loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=ROUTER)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60) as http:
        yield http


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def new_email() -> str:
    return f"budget-{secrets.token_hex(6)}@example.com"


async def bad_login(http: httpx.AsyncClient, email: str, **headers: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"email": email, "password": "not the password"},
                           headers=headers)


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


# ---------------------------------------------------------------------------------------------------- signup


async def test_parallel_signups_past_the_address_budget_get_429_with_retry_after(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, signups_per_ip_per_hour=3) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            answers = await asyncio.gather(*[
                http.post("/api/auth/signup", json={"email": new_email(), "password": "correct horse 1"})
                for _ in range(8)])
            other_address = await http.post("/api/auth/signup", json={"email": new_email(),
                                                                      "password": "correct horse 1"},
                                            headers=forwarded("198.51.100.20"))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 5
    for refused in (a for a in answers if a.status_code == 429):
        assert 3000 < assert_rate_limited(refused) <= 3600  # the address's hour
    assert other_address.status_code == 201, "the budget is per address"


async def test_signups_from_many_addresses_meet_the_global_budget(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, signups_per_minute=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            answers = [await http.post("/api/auth/signup", json={"email": new_email(), "password": "correct horse 1"},
                                       headers=forwarded(f"198.51.100.{n}")) for n in range(1, 5)]
    assert [a.status_code for a in answers] == [201, 201, 429, 429]
    assert assert_rate_limited(answers[-1]) <= 60


async def test_refused_signups_do_not_use_up_everyones_budget(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, signups_per_minute=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            taken = new_email()
            first = await http.post("/api/auth/signup", json={"email": taken, "password": "correct horse 1"},
                                    headers=forwarded("198.51.100.10"))
            again = [await http.post("/api/auth/signup", json={"email": taken, "password": "correct horse 1"},
                                     headers=forwarded(f"198.51.100.{n}")) for n in range(11, 16)]
            fresh = await http.post("/api/auth/signup", json={"email": new_email(), "password": "correct horse 1"},
                                    headers=forwarded("198.51.100.20"))
    assert first.status_code == 201
    assert {a.status_code for a in again} == {409}
    assert fresh.status_code == 201, fresh.text  # five taken-email refusals left the second account's place


async def test_ipv6_addresses_of_one_slash_64_share_the_signup_budget(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, signups_per_ip_per_hour=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            answers = [await http.post("/api/auth/signup", json={"email": new_email(), "password": "correct horse 1"},
                                       headers=forwarded(f"2001:db8:7:7::{n:x}")) for n in range(1, 4)]
            elsewhere = await http.post("/api/auth/signup",
                                        json={"email": new_email(), "password": "correct horse 1"},
                                        headers=forwarded("2001:db8:7:8::1"))
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert elsewhere.status_code == 201


FLOOD = 20


@pytest.mark.slow
async def test_a_login_is_answered_while_a_signup_flood_still_queues_on_its_own_pool(start_hub: HubStarter) -> None:
    """Signups hash on a pool of their own (its structure is unit-tested in tests/unit/test_budgets.py): with
    the signup pool's one thread busy and most of a flood queued behind it, a login is checked on the idle
    login pool and answered before that queue drains. Proven by the queue, not by timing: on a shared pool
    the login would wait for every signup queued before it, and find the queue empty when answered."""
    app = start_hub.app(rate_limit_scale=1, namespace=start_hub.new_namespace("budgets"),
                        signups_per_ip_per_hour=1000, signups_per_minute=1000, password_hash_threads=1)
    services: Services = app.state.services
    signups, logins = services.signup_hashes, services.login_checks
    with start_hub.serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            account = await signup(http)
            flood = [asyncio.ensure_future(http.post("/api/auth/signup", json={
                "email": new_email(), "password": "correct horse 1"})) for _ in range(FLOOD)]
            await until(lambda: signups.queued >= FLOOD // 2, "the flood queued on the signup pool")
            login_pool_before = logins.admitted
            login = await http.post("/api/auth/login", json={"email": account.email, "password": account.password})
            still_queued = signups.queued
            answers = await asyncio.gather(*flood)
    assert login.status_code == 200, login.text
    assert login_pool_before == 0
    assert still_queued > 0, "the login was answered only after the signup queue drained"
    assert [a.status_code for a in answers] == [201] * FLOOD
    print(f"signups still queued when the login was answered: {still_queued} of {FLOOD}")


# ----------------------------------------------------------------------------------------------------- login


async def test_correct_login_works_after_ten_bad_logins_from_another_address_through_a_trusted_proxy(
        start_hub: HubStarter) -> None:
    with budget_hub(start_hub, login_attempts_per_minute=10, forwarded_allow_ips=ROUTER) as (url, _):
        async with via_router(url) as http:
            victim = await signup(http)
            attacker = forwarded("203.0.113.7")
            guesses = [await bad_login(http, new_email(), **attacker) for _ in range(10)]
            eleventh = await bad_login(http, new_email(), **attacker)
            correct = await http.post("/api/auth/login", json={"email": victim.email, "password": victim.password},
                                      headers=forwarded("203.0.113.8"))
    assert [g.status_code for g in guesses] == [401] * 10
    assert_rate_limited(eleventh)
    assert correct.status_code == 200, correct.text


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(start_hub: HubStarter) -> None:
    """Only the proxies in FORWARDED_ALLOW_IPS (default: loopback) may name the client: a client connecting
    from elsewhere cannot escape its address's budget by inventing X-Forwarded-For."""
    with budget_hub(start_hub, login_attempts_per_minute=3) as (url, _):
        async with via_router(url) as http:
            answers = [await bad_login(http, new_email(), **forwarded(f"203.0.113.{n}")) for n in range(1, 5)]
    assert [a.status_code for a in answers[:3]] == [401] * 3
    assert_rate_limited(answers[3])


async def test_successful_logins_do_not_count_against_the_login_limits(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, login_attempts_per_minute=3, login_backoff_after=3) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            account = await signup(http)
            body = {"email": account.email, "password": account.password}
            codes = [(await http.post("/api/auth/login", json=body)).status_code for _ in range(6)]
            codes.append((await bad_login(http, account.email)).status_code)
            codes.append((await http.post("/api/auth/login", json=body)).status_code)
    assert codes == [200] * 6 + [401, 200]


async def test_a_blocked_address_creates_no_account_key(start_hub: HubStarter, redis_url: str) -> None:
    with budget_hub(start_hub, login_attempts_per_minute=2) as (url, namespace):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(2):
                assert (await bad_login(http, new_email())).status_code == 401
            target = new_email()
            assert_rate_limited(await bad_login(http, target))
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
    finally:
        await client.aclose()
    assert keys and not [k for k in keys if target.encode() in k], keys


class Clock:
    """Wall-clock seconds the test moves (`start_hub(clock=...)`)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.mark.slow
async def test_account_backoff_after_five_failures_doubles_and_a_correct_login_ends_it(start_hub: HubStarter) -> None:
    clock = Clock()
    with budget_hub(start_hub, clock=clock, login_attempts_per_minute=1000, login_backoff_after=5) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            account = await signup(http)
            correct = {"email": account.email, "password": account.password}
            first_five = [(await bad_login(http, account.email)).status_code for _ in range(5)]
            waits = [assert_rate_limited(await http.post("/api/auth/login", json=correct))]  # refused unheard
            clock.now += 1
            sixth = await bad_login(http, account.email)
            waits.append(assert_rate_limited(await bad_login(http, account.email)))
            clock.now += 1.5
            waits.append(assert_rate_limited(await http.post("/api/auth/login", json=correct)))
            clock.now += 0.5
            heard = await http.post("/api/auth/login", json=correct)
            after = [(await bad_login(http, account.email)).status_code for _ in range(5)]
    assert first_five == [401] * 5
    assert sixth.status_code == 401
    assert waits == [1, 2, 1]  # 1 s after the fifth failure, 2 s after the sixth (0.5 s of it left)
    assert heard.status_code == 200, heard.text
    assert after == [401] * 5, "a correct login ends the streak: five free failures again"


async def test_failures_from_elsewhere_back_off_the_account_but_not_an_address_it_knows(start_hub: HubStarter) -> None:
    clock = Clock()  # frozen: the backoff's waits cannot run out between requests on a slow machine
    with budget_hub(start_hub, clock=clock, login_attempts_per_minute=100, forwarded_allow_ips=ROUTER,
                    login_backoff_after=5, login_known_address_s=600) as (url, _):
        async with via_router(url) as http:
            home = forwarded("198.51.100.5")
            response = await http.post("/api/auth/signup", json={"email": new_email(), "password": "correct horse 1"},
                                       headers=home)
            assert response.status_code == 201, response.text
            correct = {"email": response.json()["user"]["email"], "password": "correct horse 1"}
            guesses = [(await bad_login(http, correct["email"], **forwarded("203.0.113.9"))).status_code
                       for _ in range(10)]
            from_new_address = await http.post("/api/auth/login", json=correct, headers=forwarded("203.0.113.10"))
            from_home = await http.post("/api/auth/login", json=correct, headers=home)
    assert guesses == [401] * 5 + [429] * 5
    assert_rate_limited(from_new_address)  # the account-wide backoff holds for addresses it does not know
    assert from_home.status_code == 200, from_home.text  # where the owner signed up is not locked out


async def test_rate_limit_scale_does_not_multiply_the_account_backoff(start_hub: HubStarter) -> None:
    """RATE_LIMIT_SCALE lets one address do more (a load test); an account's free guesses stay as set."""
    clock = Clock()
    with budget_hub(start_hub, clock=clock, rate_limit_scale=100, login_attempts_per_minute=10,
                    login_backoff_after=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            account = await signup(http)
            guesses = [await bad_login(http, account.email) for _ in range(3)]
            other_accounts = [await bad_login(http, new_email()) for _ in range(11)]
    assert [g.status_code for g in guesses[:2]] == [401, 401]
    assert_rate_limited(guesses[2])
    # The address's budget is scaled: 13 failures in a minute, past the unscaled 10.
    assert [a.status_code for a in other_accounts] == [401] * 11


async def test_an_address_is_remembered_for_login_known_address_ttl_and_not_at_zero(start_hub: HubStarter,
                                                                        redis_url: str) -> None:
    """The suite runs with LOGIN_KNOWN_ADDRESS_TTL=0 (nothing remembered, nothing left behind); when set, a
    signup and a login each mark the address for that long, and no longer."""
    with budget_hub(start_hub, login_known_address_s=600) as (url, namespace):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            account = await signup(http)
            assert (await http.post("/api/auth/login", json={"email": account.email,
                                                             "password": account.password})).status_code == 200
    with budget_hub(start_hub) as (url, unmarked):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await signup(http)
    client = aioredis.from_url(redis_url)
    try:
        marks = [key async for key in client.scan_iter(match=f"{namespace}:*login:known:*")]
        ttls = [await client.ttl(key) for key in marks]
        unmarked_keys = [key async for key in client.scan_iter(match=f"{unmarked}:*login:known:*")]
    finally:
        await client.aclose()
    assert len(marks) == 1 and 0 < ttls[0] <= 600, (marks, ttls)
    assert unmarked_keys == []


# -------------------------------------------------------------------------------------------------- creation


async def test_posts_budget_is_per_user_and_shared_by_instances(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, posts_per_hour=2) as (url, namespace), \
            start_hub(rate_limit_scale=1, namespace=namespace, posts_per_hour=2) as other_url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http, \
                httpx.AsyncClient(base_url=other_url, timeout=60) as other:
            author, someone = await signup(http), await signup(http)

            async def create(client: httpx.AsyncClient, account: Account) -> httpx.Response:
                return await client.post("/api/posts", json={"title": "budget"}, headers=account.headers)

            answers = [await create(http, author), await create(other, author), await create(http, author)]
            someone_else = await create(other, someone)
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert 3000 < assert_rate_limited(answers[2]) <= 3600
    assert someone_else.status_code == 201


async def test_a_replay_at_a_used_up_budget_returns_the_stored_result(start_hub: HubStarter) -> None:
    """A client whose 201 was lost retries with the same Idempotency-Key: the stored result answers it
    without spending the budget, while a new request (another key, or none) is still refused."""
    with budget_hub(start_hub, posts_per_hour=1, comments_per_hour=1) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            author = await signup(http)
            post_key = {**author.headers, "Idempotency-Key": secrets.token_hex(8)}
            first_post = await http.post("/api/posts", json={"title": "once"}, headers=post_key)
            post_replay = await http.post("/api/posts", json={"title": "once"}, headers=post_key)
            new_post = await http.post("/api/posts", json={"title": "twice"},
                                       headers={**author.headers, "Idempotency-Key": secrets.token_hex(8)})
            comments = f"/api/posts/{first_post.json()['id']}/comments"
            comment_key = {**author.headers, "Idempotency-Key": secrets.token_hex(8)}
            first_comment = await http.post(comments, json={"content": "once"}, headers=comment_key)
            comment_replay = await http.post(comments, json={"content": "once"}, headers=comment_key)
            new_comment = await http.post(comments, json={"content": "twice"}, headers=author.headers)
    for first, replay in ((first_post, post_replay), (first_comment, comment_replay)):
        assert first.status_code == 201, first.text
        assert replay.status_code == 201, replay.text
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == first.json()
    assert_rate_limited(new_post)
    assert_rate_limited(new_comment)


async def test_comment_and_vote_budgets(start_hub: HubStarter) -> None:
    with budget_hub(start_hub, comments_per_hour=2, votes_per_minute=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            author = await signup(http)
            post = (await http.post("/api/posts", json={"title": "budget"}, headers=author.headers)).json()
            comments = [await http.post(f"/api/posts/{post['id']}/comments", json={"content": f"c{n}"},
                                        headers=author.headers) for n in range(3)]
            comment_id = comments[0].json()["id"]
            votes = [await http.put(f"/api/posts/{post['id']}/vote", json={"vote_type": "upvote"},
                                    headers=author.headers),
                     await http.put(f"/api/comments/{comment_id}/vote", json={"vote_type": "downvote"},
                                    headers=author.headers),
                     await http.put(f"/api/posts/{post['id']}/vote", json={"vote_type": "downvote"},
                                    headers=author.headers)]
            retract = await http.delete(f"/api/posts/{post['id']}/vote", headers=author.headers)
    assert [c.status_code for c in comments] == [201, 201, 429]
    assert_rate_limited(comments[2])
    assert [v.status_code for v in votes[:2]] == [200, 200]
    assert assert_rate_limited(votes[2]) <= 60
    assert retract.status_code == 200, "retracting is not a vote cast"


async def test_room_messages_budget_over_the_websocket(start_hub: HubStarter, client: httpx.AsyncClient,
                                                       owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    with budget_hub(start_hub, room_messages_per_minute=2, votes_per_minute=1) as (url, _):
        ws, _ = await joined(url, token, channel)
        chat = await publish(ws, channel, "chat.message", {"text": "one"})
        question = await publish(ws, channel, "question.ask", {"text": "two?"})
        third = await publish(ws, channel, "chat.message", {"text": "three"})
        question_id = question["result"]["message"]["id"]
        vote = await publish(ws, channel, "question.vote", {"question_id": question_id})
        second_vote = await publish(ws, channel, "question.vote", {"question_id": question_id})
        await ws.close()
    assert chat["ok"] and question["ok"] and vote["ok"], (chat, question, vote)
    for refused in (third, second_vote):
        assert error_code(refused) == "rate_limited", refused
        assert 0 < refused["error"]["details"]["retry_after"] <= 60
    stored = await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                       UUID(channel[8:]))
    assert stored == 2
