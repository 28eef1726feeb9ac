"""Revocation's pure parts: which tokens a cutoff revokes, a token's issue time, and the cutoff cache."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from hub.errors import Unauthorized
from hub.revocation import AccountNote, decode_note
from hub.rules.revocation import UNKNOWN, CutoffCache, is_revoked
from hub.tokens import TokenService
from persistence.account_state import RevocationKind
from persistence.identity import token_issued_us, user_identity, with_app_role

SECRET = "unit-test-secret-that-is-long-enough-0123456789"
TOKENS = TokenService(SECRET, "hub", 3600)
SECOND = int(time.time())  # a whole second of the last hour: the tokens must not have expired


def test_a_cutoff_revokes_tokens_issued_at_or_before_it_and_none_after() -> None:
    assert is_revoked(1_000, 1_000)
    assert is_revoked(999, 1_000)
    assert not is_revoked(1_001, 1_000)
    assert not is_revoked(0, None)


def test_hub_tokens_carry_their_issue_time_in_microseconds_within_the_iat_second() -> None:
    token, _ = TOKENS.issue_access(user_id=uuid.uuid4(), email="a@hub.test", app_metadata={}, user_metadata={},
                                   session_id=uuid.uuid4(), now=SECOND + 0.123456)
    claims = TOKENS.verify_once(token)
    assert claims["iat_us"] == SECOND * 1_000_000 + 123_456
    assert claims["iat"] == SECOND
    assert user_identity(claims).issued_us == SECOND * 1_000_000 + 123_456


def test_two_tokens_of_one_second_fall_either_side_of_a_cutoff_between_them() -> None:
    def issued(now: float) -> int:
        token, _ = TOKENS.issue_access(user_id=uuid.uuid4(), email="a@hub.test", app_metadata={},
                                       user_metadata={}, session_id=uuid.uuid4(), now=now)
        return user_identity(TOKENS.verify_once(token)).issued_us

    cutoff = SECOND * 1_000_000 + 500_000
    before, after = issued(SECOND + 0.25), issued(SECOND + 0.75)
    assert is_revoked(before, cutoff)
    assert not is_revoked(after, cutoff)


def test_a_token_without_iat_us_counts_from_the_start_of_its_iat_second() -> None:
    """Supabase-issued tokens: conservative, so one from the second of a revocation counts as older."""
    assert token_issued_us({"iat": 1_700_000_000}) == 1_700_000_000_000_000
    assert is_revoked(token_issued_us({"iat": 1_700_000_000}), 1_700_000_000_000_001)
    assert not is_revoked(token_issued_us({"iat": 1_700_000_001}), 1_700_000_000_999_999)


@pytest.mark.parametrize("value", ["1700000000000000", 1.5, True, -1, 2**53])
def test_an_iat_us_claim_that_is_not_an_integer_time_is_refused(value: object) -> None:
    token = jwt.encode({"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated",
                        "exp": 4_000_000_000, "iat_us": value}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        TOKENS.verify_once(token)


def test_a_socket_that_takes_a_new_role_counts_as_issued_at_the_cutoff() -> None:
    claims = TOKENS.verify_once(TOKENS.issue_access(
        user_id=uuid.uuid4(), email="a@hub.test", app_metadata={"role": "admin", "provider": "email"},
        user_metadata={}, session_id=uuid.uuid4(), now=float(SECOND))[0])
    demoted = with_app_role(user_identity(claims), None, 1_700_000_001_000_000)
    assert demoted.app_role is None and not demoted.is_host
    assert '"provider":"email"' in demoted.claims_json and '"role":"admin"' not in demoted.claims_json
    assert demoted.issued_us == 1_700_000_001_000_000
    assert '"iat_us":1700000001000000' in demoted.claims_json, "the database compares the claims' issue time"
    assert with_app_role(user_identity(claims), "host", 1).is_host


def _fill(cache: CutoffCache, user: uuid.UUID, cutoff: int | None) -> None:
    cache.store(user, cutoff, cache.reading(user))


def test_the_cache_answers_only_while_live_and_keeps_what_notes_say() -> None:
    user = uuid.uuid4()
    cache = CutoffCache(10)
    _fill(cache, user, 5)
    assert cache.get(user) is UNKNOWN, "not listening: nothing is kept"
    cache.reset(live=True)
    _fill(cache, user, None)
    assert cache.get(user) is None
    cache.noted(user, 7)
    assert cache.get(user) == 7
    cache.reset(live=False)
    assert cache.get(user) is UNKNOWN
    cache.noted(user, 9)
    assert cache.get(user) is UNKNOWN


def test_a_read_that_began_before_a_note_is_not_stored_over_it() -> None:
    user = uuid.uuid4()
    cache = CutoffCache(10)
    cache.reset(live=True)
    began = cache.reading(user)  # a miss starts reading the database...
    cache.noted(user, 7)  # ...a revocation commits meanwhile...
    cache.store(user, None, began)  # ...and the read, from before it, comes back
    assert cache.get(user) == 7


def test_a_read_that_began_before_a_reconnect_is_not_stored() -> None:
    user = uuid.uuid4()
    cache = CutoffCache(10)
    cache.reset(live=True)
    began = cache.reading(user)
    cache.reset(live=True)
    cache.store(user, None, began)
    assert cache.get(user) is UNKNOWN


def test_a_note_about_another_user_does_not_throw_away_a_read_in_flight() -> None:
    reader, revoked = uuid.uuid4(), uuid.uuid4()
    cache = CutoffCache(10)
    cache.reset(live=True)
    began = cache.reading(reader)
    cache.noted(revoked, 7)
    cache.forget(revoked)
    cache.store(reader, None, began)
    assert cache.get(reader) is None, "a revocation of one account keeps every other's cache warm"


def test_of_two_reads_of_one_user_only_the_one_begun_after_its_note_is_stored() -> None:
    user = uuid.uuid4()
    cache = CutoffCache(10)
    cache.reset(live=True)
    early = cache.reading(user)
    cache.forget(user)
    late = cache.reading(user)
    cache.store(user, None, early)
    assert cache.get(user) is UNKNOWN
    cache.store(user, 7, late)
    assert cache.get(user) == 7


def test_a_note_of_an_unknown_kind_is_not_read() -> None:
    user = uuid.uuid4()
    assert decode_note(f'{{"u": "{user}", "k": "revoked", "a": 5}}') == AccountNote(user, RevocationKind.REVOKED, 5)
    assert decode_note(f'{{"u": "{user}", "k": "suspended", "a": 5}}') is None


def test_the_cache_keeps_at_most_its_size_evicting_the_least_recently_used() -> None:
    cache = CutoffCache(3)
    cache.reset(live=True)
    users = [uuid.uuid4() for _ in range(4)]
    for n, user in enumerate(users[:3]):
        _fill(cache, user, n)
    assert cache.get(users[0]) == 0  # used: the oldest unused one is now users[1]
    _fill(cache, users[3], 3)
    assert len(cache) == 3
    assert cache.get(users[1]) is UNKNOWN
    assert [cache.get(u) for u in (users[0], users[2], users[3])] == [0, 2, 3]


def test_a_forgotten_user_is_read_again_and_a_read_from_before_is_not_stored() -> None:
    user = uuid.uuid4()
    cache = CutoffCache(10)
    cache.reset(live=True)
    _fill(cache, user, None)
    began = cache.reading(user)  # a read in flight while this instance revokes the user
    cache.forget(user)
    assert cache.get(user) is UNKNOWN
    cache.store(user, None, began)
    assert cache.get(user) is UNKNOWN
