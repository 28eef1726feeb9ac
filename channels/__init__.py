"""The hub's realtime core: protocol v1 as pure, I/O-free Python.

Sockets, PostgreSQL and Redis live at the edge (``hub/``); everything here is
decided from its arguments, with time passed in as monotonic seconds.
"""

from channels.access import ChannelFacts, Role, Viewer, decide_publish, decide_subscribe
from channels.coalesce import Coalescer
from channels.connection import Action, Close, Connection, ConnState, SendFrame
from channels.errors import CloseCode, FrameError, ProtocolError, RateLimited, error_for_code
from channels.frames import (
    ClientFrame,
    decode_client_frame,
    encode_error,
    encode_event,
    encode_json,
    encode_pong,
    encode_presence,
    encode_reply_error,
    encode_reply_ok,
    encode_reset,
    presence_state,
)
from channels.limits import ProtocolLimits
from channels.names import ChannelKind, ChannelName, parse_channel
from channels.presence import Meta, PresenceBatch, PresenceDiff, PresenceRoom
from channels.publishes import PublishRule, Sender, check_publish, validate_payload
from channels.ratelimit import KeyedLimiter, TokenBucket
from channels.resume import Live, Replay, Reset, decide_resume
from channels.sequencing import NeedsFill, SequenceGate, Step, Subscription

__all__ = [
    "Action",
    "ChannelFacts",
    "ChannelKind",
    "ChannelName",
    "ClientFrame",
    "Close",
    "CloseCode",
    "Coalescer",
    "ConnState",
    "Connection",
    "FrameError",
    "KeyedLimiter",
    "Live",
    "Meta",
    "NeedsFill",
    "PresenceBatch",
    "PresenceDiff",
    "PresenceRoom",
    "ProtocolError",
    "ProtocolLimits",
    "PublishRule",
    "RateLimited",
    "Replay",
    "Reset",
    "Role",
    "SendFrame",
    "Sender",
    "SequenceGate",
    "Step",
    "Subscription",
    "TokenBucket",
    "Viewer",
    "check_publish",
    "decide_publish",
    "decide_resume",
    "decide_subscribe",
    "decode_client_frame",
    "encode_error",
    "encode_event",
    "encode_json",
    "encode_pong",
    "encode_presence",
    "encode_reply_error",
    "encode_reply_ok",
    "encode_reset",
    "error_for_code",
    "parse_channel",
    "presence_state",
    "validate_payload",
]
