import json

import pytest

from channels.admission import OpenRefusal
from channels.connection import Close, Connection, ConnState, SendFrame
from channels.errors import CloseCode, Forbidden, LookupBudgetSpent, NotFound, RateLimited, TokenExpired
from channels.frames import Subscribe
from channels.limits import ProtocolLimits
from channels.ratelimit import KeyedLimiter

U = "6f1c2a3b-0000-4000-8000-00000000abcd"


def opened(limits: ProtocolLimits | None = None) -> Connection:
    conn = Connection("c1", now=0.0, limits=limits)
    conn.on_auth(1, "u1", exp=1_000_100.0, now=0.0, wall_now=1_000_000.0)
    return conn


def frames(actions: list[SendFrame | Close]) -> list[dict[str, object]]:
    return [json.loads(a.data) for a in actions if isinstance(a, SendFrame)]


def test_auth_reply_carries_identity_expiry_connection_and_heartbeat() -> None:
    conn = Connection("c1", now=0.0)
    actions = conn.on_auth(1, "u1", exp=1_000_100.0, now=0.0, wall_now=1_000_000.0)
    assert frames(actions) == [
        {
            "op": "reply",
            "id": 1,
            "ok": True,
            "result": {"user_id": "u1", "expires_at": 1_000_100, "connection_id": "c1", "heartbeat_s": 25.0},
        }
    ]
    assert conn.state is ConnState.OPEN


def test_no_auth_within_the_deadline_closes_4001() -> None:
    conn = Connection("c1", now=100.0)
    assert conn.next_deadline() == 105.0
    assert conn.tick(104.9) == []
    assert conn.tick(105.0) == [Close(CloseCode.UNAUTHENTICATED, "authentication timeout")]
    assert conn.state is ConnState.CLOSED
    assert conn.tick(200.0) == []


def test_frame_before_auth_is_refused_and_closes_4001() -> None:
    conn = Connection("c1", now=0.0)
    frame, actions = conn.receive('{"op":"subscribe","id":3,"channel":"feed"}', 0.1)
    assert frame is None
    assert frames(actions)[0]["error"] == {"code": "unauthorized", "message": "authenticate first"}
    assert actions[-1] == Close(CloseCode.UNAUTHENTICATED, "authenticate first")


def test_token_expiry_sends_token_expired_then_closes_4001() -> None:
    conn = opened()
    assert conn.next_deadline() == 100.0
    assert conn.tick(99.0) == []
    actions = conn.tick(100.0)
    assert frames(actions) == [
        {"op": "error", "error": {"code": "token_expired", "message": "token expired"}}
    ]
    assert actions[-1] == Close(CloseCode.UNAUTHENTICATED, "token expired")


def test_reauth_by_the_same_user_extends_expiry() -> None:
    conn = opened()
    conn.on_auth(2, "u1", exp=1_000_500.0, now=50.0, wall_now=1_000_050.0)
    assert conn.tick(100.0) == []
    assert conn.next_deadline() == 500.0


def test_reauth_as_another_user_is_forbidden_and_keeps_the_old_identity() -> None:
    conn = opened()
    with pytest.raises(Forbidden):
        conn.on_auth(2, "u2", exp=1_000_500.0, now=1.0, wall_now=1_000_001.0)
    assert conn.user_id == "u1"


def test_already_expired_token_is_refused() -> None:
    with pytest.raises(TokenExpired):
        Connection("c1", now=0.0).on_auth(1, "u1", exp=10.0, now=0.0, wall_now=10.0)


def test_ping_is_answered_with_pong() -> None:
    frame, actions = opened().receive(b'{"op":"ping","id":8}', 1.0)
    assert frame is None
    assert actions == [SendFrame(b'{"op":"pong","id":8}')]


def test_valid_frames_are_handed_to_the_io_layer() -> None:
    frame, actions = opened().receive(b'{"op":"subscribe","id":2,"channel":"feed","since":3}', 1.0)
    assert frame == Subscribe(id=2, channel="feed", since=3)
    assert actions == []


def test_oversize_frame_closes_1009() -> None:
    conn = opened(ProtocolLimits(max_frame_bytes=100))
    assert conn.receive("x" * 101, 1.0) == (None, [Close(CloseCode.TOO_BIG, "frame too big")])
    conn = opened(ProtocolLimits(max_frame_bytes=100))
    assert conn.receive("é" * 51, 1.0)[1] == [Close(CloseCode.TOO_BIG, "frame too big")]


def test_bad_frame_gets_a_reply_with_its_id() -> None:
    _, actions = opened().receive(b'{"op":"subscribe","id":5,"channel":1}', 1.0)
    reply = frames(actions)[0]
    assert (reply["op"], reply["id"], reply["ok"]) == ("reply", 5, False)
    assert isinstance(reply["error"], dict)
    assert reply["error"]["code"] == "bad_frame"


def test_ten_bad_frames_within_ten_seconds_close_1008() -> None:
    conn = opened()
    for i in range(9):
        _, actions = conn.receive(b"garbage", float(i))
        assert not any(isinstance(a, Close) for a in actions)
    _, actions = conn.receive(b"garbage", 9.5)
    assert actions[-1] == Close(CloseCode.POLICY, "too many refused frames")


def test_bad_frames_spread_out_do_not_close() -> None:
    conn = opened()
    for i in range(30):
        _, actions = conn.receive(b"garbage", i * 1.5)
        assert not any(isinstance(a, Close) for a in actions)


def test_subscribe_and_unsubscribe_are_checked_against_the_connections_record_of_subscriptions() -> None:
    conn = opened(ProtocolLimits(max_subscriptions=2))
    feed = conn.subscribe("feed")
    assert str(feed) == "feed"
    conn.subscribed(feed, "feed-handle")
    with pytest.raises(Exception) as info:
        conn.subscribe("feed")
    assert getattr(info.value, "code", None) == "already_subscribed"
    thread = conn.subscribe(f"thread:{U.upper()}")
    assert str(thread) == f"thread:{U}"
    conn.subscribed(thread, "thread-handle")
    with pytest.raises(Exception) as info:
        conn.subscribe("leaderboard:daily")
    assert getattr(info.value, "code", None) == "too_many_subscriptions"
    with pytest.raises(Exception) as info:
        conn.subscribe("bogus")
    assert getattr(info.value, "code", None) == "unknown_channel"
    name, handle = conn.unsubscribe("feed")
    assert (str(name), handle) == ("feed", "feed-handle")
    with pytest.raises(Exception) as info:
        conn.unsubscribe("feed")
    assert getattr(info.value, "code", None) == "not_subscribed"


def test_the_connection_holds_one_handle_per_subscription_until_it_is_unsubscribed() -> None:
    conn = opened()
    handle = object()
    name = conn.subscribe(f"session:{U}")
    assert dict(conn.subscriptions) == {}  # checked, not yet authorized by the I/O layer
    conn.subscribed(name, handle)
    assert dict(conn.subscriptions) == {f"session:{U}": handle}
    assert conn.unsubscribe(f"session:{U}") == (name, handle)
    assert dict(conn.subscriptions) == {}
    assert str(conn.subscribe(f"session:{U}")) == f"session:{U}"  # and may be subscribed again


def test_a_subscription_the_server_revokes_is_gone_from_the_one_record_and_can_be_subscribed_again() -> None:
    # A revoked subscription leaves the connection's record; no other copy exists that could disagree.
    conn = opened()
    handle = object()
    conn.subscribed(conn.subscribe(f"session:{U}"), handle)
    conn.subscribed(conn.subscribe("feed"), "feed-handle")
    assert conn.drop(f"session:{U}") is handle
    assert conn.drop(f"session:{U}") is None  # a second revocation (another instance's event) finds nothing
    assert list(conn.subscriptions) == ["feed"]
    with pytest.raises(Exception) as info:
        conn.unsubscribe(f"session:{U}")
    assert getattr(info.value, "code", None) == "not_subscribed"
    again = conn.subscribe(f"session:{U}")
    conn.subscribed(again, "new-handle")
    assert conn.subscriptions[f"session:{U}"] == "new-handle"


def test_a_failed_subscribe_dropped_by_the_server_frees_its_slot() -> None:
    conn = opened(ProtocolLimits(max_subscriptions=1))
    conn.subscribed(conn.subscribe("feed"), "h")
    conn.drop("feed")
    assert str(conn.subscribe(f"thread:{U}")) == f"thread:{U}"


def test_publish_is_rate_limited_per_channel_with_retry_after() -> None:
    conn = opened(ProtocolLimits(publish_rate_per_s=1.0, publish_burst=2))
    channel = f"session:{U}"
    conn.check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    conn.check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    with pytest.raises(Exception) as info:
        conn.check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    assert getattr(info.value, "code", None) == "rate_limited"
    assert getattr(info.value, "details", None) == {"retry_after": 1.0}
    conn.check_publish(f"thread:{U}", "typing", {}, 0.0)  # another channel, another bucket


def test_a_users_connections_share_one_publish_budget_from_the_first_publish() -> None:
    limits = ProtocolLimits(publish_rate_per_s=1.0, publish_burst=2)
    shared = KeyedLimiter(limits.publish_rate_per_s, limits.publish_burst)  # still empty: no publish yet
    connections = [Connection(f"c{n}", now=0.0, limits=limits, publish_limiter=shared) for n in range(2)]
    for conn in connections:
        conn.on_auth(1, "u1", exp=1_000_100.0, now=0.0, wall_now=1_000_000.0)
    channel = f"session:{U}"
    connections[0].check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    connections[1].check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    with pytest.raises(Exception) as info:
        connections[0].check_publish(channel, "reaction", {"emoji": "👍"}, 0.0)
    assert getattr(info.value, "code", None) == "rate_limited"


def test_closed_connection_emits_nothing_more() -> None:
    conn = opened()
    assert conn.close(CloseCode.GOING_AWAY, "draining") == [Close(CloseCode.GOING_AWAY, "draining")]
    assert conn.receive(b'{"op":"ping"}', 1.0) == (None, [])
    assert conn.close(CloseCode.NORMAL) == []


def test_every_frame_takes_a_token_and_one_without_is_refused_rate_limited_unread() -> None:
    conn = opened(ProtocolLimits(frame_rate_per_s=2.0, frame_burst=3))
    assert conn.receive(b'{"op":"ping","id":1}', 10.0)[1] == [SendFrame(b'{"op":"pong","id":1}')]
    assert conn.receive(b"garbage", 10.0)[0] is None  # a bad frame pays too
    assert conn.receive(b'{"op":"subscribe","id":3,"channel":"feed"}', 10.0)[0] == Subscribe(id=3, channel="feed")
    frame, actions = conn.receive(b'{"op":"subscribe","id":4,"channel":"feed"}', 10.0)
    assert frame is None
    assert frames(actions) == [{"op": "reply", "id": 4, "ok": False, "error": {
        "code": "rate_limited", "message": "rate limited", "details": {"retry_after": 0.5}}}]
    frame, _ = conn.receive(b'{"op":"subscribe","id":5,"channel":"feed"}', 10.5)  # refilled at 2 per second
    assert frame == Subscribe(id=5, channel="feed")


def test_a_flood_past_the_frame_budget_is_closed_1008_after_the_strike_limit() -> None:
    conn = opened(ProtocolLimits(frame_rate_per_s=1.0, frame_burst=5, strike_limit=3, strike_window_s=10.0))
    answers = [conn.receive(b'{"op":"ping","id":%d}' % i, 0.0)[1] for i in range(8)]
    assert [frames(a)[0]["op"] for a in answers[:5]] == ["pong"] * 5
    assert [json.loads(a[0].data)["error"]["code"] for a in answers[5:] if isinstance(a[0], SendFrame)] == [
        "rate_limited"] * 3
    assert not any(isinstance(a, Close) for a in answers[-2])  # the second refusal did not close yet
    assert answers[-1][-1] == Close(CloseCode.POLICY, "too many refused frames")
    assert conn.state is ConnState.CLOSED


def test_not_found_and_forbidden_answers_are_strikes_but_a_publish_over_its_rate_is_not() -> None:
    conn = opened(ProtocolLimits(strike_limit=3, strike_window_s=10.0))
    for now in (0.0, 1.0, 2.0):
        conn.reply_error(9, RateLimited(1.0), now)
    assert conn.state is ConnState.OPEN
    assert conn.reply_error(1, NotFound(), 3.0)[-1] != Close(CloseCode.POLICY, "too many refused frames")
    conn.reply_error(2, Forbidden(), 4.0)
    assert conn.reply_error(None, NotFound(), 5.0)[-1] == Close(CloseCode.POLICY, "too many refused frames")


def test_probing_slower_than_the_strike_window_is_answered_and_never_closed() -> None:
    conn = opened(ProtocolLimits(strike_limit=3, strike_window_s=10.0))
    for i in range(20):
        actions = conn.reply_error(i, NotFound(), i * 5.0)
        assert [type(a) for a in actions] == [SendFrame]


def test_subscribes_over_the_users_lookup_budget_are_strikes_and_a_strike_close_marks_the_connection() -> None:
    conn = opened(ProtocolLimits(strike_limit=2, strike_window_s=10.0))
    first = conn.reply_error(1, LookupBudgetSpent(12.5), 0.0)
    assert frames(first)[0]["error"] == {"code": "rate_limited", "message": "rate limited",
                                         "details": {"retry_after": 12.5}}
    assert not conn.struck_out
    assert conn.reply_error(2, LookupBudgetSpent(12.0), 1.0)[-1] == Close(CloseCode.POLICY, "too many refused frames")
    assert conn.struck_out


def test_a_close_for_any_other_reason_does_not_mark_the_connection_struck_out() -> None:
    conn = opened()
    conn.reply_error(1, NotFound(), 0.0)
    conn.close(CloseCode.GOING_AWAY, "server draining")
    assert not conn.struck_out


def test_a_refused_open_answers_the_auth_rate_limited_then_closes_with_the_refusals_code() -> None:
    conn = Connection("c1", now=0.0)
    actions = conn.refuse_open(1, OpenRefusal(3.0, CloseCode.TOO_MANY_CONNECTIONS, "too many connections opened"))
    assert frames(actions) == [{"op": "reply", "id": 1, "ok": False,
                                "error": {"code": "rate_limited", "message": "rate limited",
                                          "details": {"retry_after": 3.0}}}]
    assert actions[-1] == Close(CloseCode.TOO_MANY_CONNECTIONS, "too many connections opened")
    assert conn.state is ConnState.CLOSED and not conn.struck_out
    assert opened().refuse_open(2, OpenRefusal(1.0, CloseCode.POLICY, "cooling off")) == []  # only a first auth


def test_publish_payload_is_validated_by_the_connection_and_returned_as_the_rules_struct() -> None:
    conn = opened()
    name, rule, payload = conn.check_publish(f"session:{U}", "reaction", {"emoji": "👍"}, 0.0)
    assert (str(name), rule.event, payload.emoji) == (f"session:{U}", "reaction", "👍")
    with pytest.raises(Exception) as info:
        conn.check_publish(f"session:{U}", "reaction", {"emoji": 3}, 0.0)
    assert getattr(info.value, "code", None) == "bad_frame"
    assert getattr(info.value, "details", {}).get("path") == "$.data.emoji"
