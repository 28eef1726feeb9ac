import channels


def test_public_surface_is_pinned() -> None:
    for name in channels.__all__:
        assert hasattr(channels, name), name
    assert {
        "decode_client_frame",
        "encode_event",
        "parse_channel",
        "decide_subscribe",
        "decide_resume",
        "Subscription",
        "Coalescer",
        "TokenBucket",
        "Connection",
        "PresenceRoom",
        "ProtocolError",
        "CloseCode",
        "ProtocolLimits",
    } <= set(channels.__all__)
