"""`ProtocolLimits` has one source, the settings: its defaults are the settings' defaults."""

import dataclasses

from channels.limits import ProtocolLimits
from hub.realtime.instance import protocol_limits
from hub.settings import Settings


def test_protocol_limit_defaults_agree_with_the_settings_defaults() -> None:
    assert protocol_limits(Settings.from_env({})) == ProtocolLimits()


def test_every_protocol_limit_is_set_from_the_settings() -> None:
    # A field left to its default in `protocol_limits` would not follow its setting.
    changed = Settings.from_env({
        "WS_AUTH_TIMEOUT": "7", "WS_HEARTBEAT": "30", "WS_MAX_FRAME_BYTES": "2048", "WS_MAX_SUBSCRIPTIONS": "7",
        "WS_SEND_QUEUE": "64", "WS_PUBLISH_RATE": "3", "WS_PUBLISH_BURST": "4", "WS_FRAME_RATE": "9",
        "WS_FRAME_BURST": "11", "WS_STRIKE_LIMIT": "3", "WS_STRIKE_WINDOW": "4",
    })
    limits, defaults = protocol_limits(changed), ProtocolLimits()
    same = [f.name for f in dataclasses.fields(ProtocolLimits) if getattr(limits, f.name) == getattr(defaults, f.name)]
    assert same == []
