"""Who may subscribe to a channel (and read its history), and who may publish on it.

Pure decisions: the I/O layer looks up :class:`ChannelFacts` (one query) and
calls these; the websocket ``subscribe`` and the REST history route share
:func:`decide_subscribe`, so resume can never be looser than live delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from channels.errors import Forbidden, NotFound, SessionNotLive
from channels.names import ChannelKind, ChannelName
from channels.publishes import PublishRule, Sender

__all__ = ["ATTENDING", "ChannelFacts", "Role", "Viewer", "decide_publish", "decide_subscribe"]

# Attendance statuses that admit a participant to the room; ``waitlisted`` and
# ``missed`` do not.
ATTENDING = frozenset({"registered", "attended"})


class Role(Enum):
    ADMIN = "admin"
    HOST = "host"  # may host sessions; gives no access to other hosts' sessions


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the I/O layer looked up for one channel and viewer.

    ``exists``: the post (thread/votes) or session exists. For sessions,
    ``host_id``, ``session_status`` (``scheduled``/``live``/``ended``/``cancelled``)
    and the viewer's ``attendance_status`` (``None`` when not registered).
    ``hidden_author_id``: the author of a post hidden pending review (``None`` when
    it is not hidden); only they and admins read its thread, as only they read the
    post over REST. Unused fields are ignored for the other kinds.
    """

    exists: bool = True
    host_id: str | None = None
    attendance_status: str | None = None
    session_status: str | None = None
    hidden_author_id: str | None = None


def decide_subscribe(channel: ChannelName, viewer: Viewer, facts: ChannelFacts) -> None:
    """Return if ``viewer`` may subscribe to (or read the history of) ``channel``.

    Raises ``not_found`` (no such post/session) or ``forbidden``. The check for
    existence comes first only where the viewer could learn it anyway (posts are
    readable by every authenticated user); ``user:<id>`` of another user is
    ``forbidden`` whether or not that user exists.
    """
    kind = channel.kind
    if kind in (ChannelKind.FEED, ChannelKind.LEADERBOARD):
        return
    if kind in (ChannelKind.THREAD, ChannelKind.VOTES):
        hidden_from_viewer = facts.hidden_author_id not in (None, viewer.user_id) and not viewer.is_admin
        if not facts.exists or hidden_from_viewer:
            raise NotFound(details={"channel": str(channel)})
        return
    if kind is ChannelKind.USER:
        if channel.key != viewer.user_id:
            raise Forbidden(details={"channel": str(channel)})
        return
    # Sessions are listed to every authenticated user, so revealing existence is fine.
    if not facts.exists:
        raise NotFound(details={"channel": str(channel)})
    if not _is_member(viewer, facts):
        raise Forbidden(details={"channel": str(channel)})


def _is_host(viewer: Viewer, facts: ChannelFacts) -> bool:
    return viewer.is_admin or (facts.host_id is not None and facts.host_id == viewer.user_id)


def _is_member(viewer: Viewer, facts: ChannelFacts) -> bool:
    return _is_host(viewer, facts) or facts.attendance_status in ATTENDING


def decide_publish(
    channel: ChannelName,
    rule: PublishRule,
    viewer: Viewer,
    facts: ChannelFacts,
    *,
    target_user_id: str | None = None,
) -> None:
    """Return if ``viewer`` may publish ``rule.event`` on ``channel`` now.

    ``rule`` comes from :func:`channels.publishes.check_publish`. ``target_user_id``
    is whose hand a ``hand.lower`` lowers (``None``: one's own); lowering someone
    else's is host-only. Raises ``not_found``, ``forbidden`` or ``session_not_live``.
    """
    decide_subscribe(channel, viewer, facts)
    if rule.sender is Sender.HOST or (target_user_id not in (None, viewer.user_id)):
        if not _is_host(viewer, facts):
            raise Forbidden("only the host may do this", {"event": rule.event})
    if rule.requires_live and facts.session_status != "live":
        raise SessionNotLive(details={"channel": str(channel)})
