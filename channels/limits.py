"""Every limit of one websocket connection's protocol, in one frozen settings object.

Built from `hub.settings.Settings` by `hub.realtime.instance.protocol_limits` (the defaults here are the
settings' defaults, a unit test holds them together; they serve the pure unit tests). Limits of shared
parts (coalescing and presence windows, the large-room threshold) are not a connection's: the parts
that hold them read them from the settings. Worst-case memory is written next to the limits that hold memory; "per
connection" figures multiply by the connections of an instance (e.g. 10,000).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProtocolLimits"]


@dataclass(frozen=True, slots=True)
class ProtocolLimits:
    # Seconds after the upgrade within which `auth` must arrive, else close 4001.
    auth_timeout_s: float = 5.0
    # Server websocket ping interval, announced in the auth reply.
    heartbeat_s: float = 25.0
    # Largest client frame; larger closes with 1009. One frame is held while decoded:
    # 64 KiB per connection being read.
    max_frame_bytes: int = 64 * 1024
    # Subscriptions per connection. Each costs a Subscription (~1 KiB when idle)
    # plus its replay buffer while replaying: 100 x 1 KiB = 100 KiB per connection idle.
    max_subscriptions: int = 100
    # Live frames held per subscription while its log read is in flight; overflow is
    # re-read from the log, not lost. Frames are shared (encoded once), so the cost
    # is references: 256 x 8 B per replaying subscription, frames themselves ≤ 64 KiB each.
    replay_buffer_frames: int = 256
    # Outgoing frames queued per connection before it is closed 4008 (slow consumer).
    # Frames are shared bytes; worst case 1024 x 64 KiB = 64 MiB only if every queued
    # frame is distinct and maximal; typical events are < 2 KiB → ~2 MiB.
    send_queue_frames: int = 1024
    # Every client frame (whatever its op, valid or not) takes a token from the connection's bucket of
    # `frame_burst`, refilled at `frame_rate_per_s`; a frame without one is refused `rate_limited`, unread.
    # The burst lets a reconnecting client resubscribe to all its channels at once. ~100 B per connection.
    frame_rate_per_s: float = 20.0
    frame_burst: int = 200
    # Strikes: a frame refused as `bad_frame`, `not_found` or `forbidden`, or for want of a frame token.
    # `strike_limit` strikes within `strike_window_s` close with 1008 (a connection that keeps probing or
    # flooding is dropped). The strike times are kept only once a frame was refused: `strike_limit` x 8 B.
    strike_limit: int = 10
    strike_window_s: float = 10.0
    # Client publishes per user and channel: bucket of `publish_burst`, refilled at
    # `publish_rate_per_s`. ~200 B per active (user, channel) key.
    publish_rate_per_s: float = 5.0
    publish_burst: int = 10

    def __post_init__(self) -> None:
        for name in (
            "auth_timeout_s",
            "heartbeat_s",
            "frame_rate_per_s",
            "strike_window_s",
            "publish_rate_per_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in (
            "max_frame_bytes",
            "max_subscriptions",
            "replay_buffer_frames",
            "send_queue_frames",
            "frame_burst",
            "strike_limit",
            "publish_burst",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
