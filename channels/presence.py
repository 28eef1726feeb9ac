"""Presence of one channel: who is here, with one meta per connection.

A user is one entry however many tabs they have; each connection adds a
:class:`Meta`. Changes are batched over a window (default 0.25 s, the caller's
clock) into one diff, Phoenix style:

* a first connection of a user → ``joins[user] = [meta]``; a second tab is again
  ``joins[user] = [new meta]``, which a client merges into the existing entry
  (so it is not a new user, and ``count`` does not change);
* a connection leaving → ``leaves[user] = [its meta]`` (the user is gone when no meta is left);
* a meta change (hand raised) → ``leaves[user] = [old]`` and ``joins[user] = [new]``.

Within a window the diff is computed from the state at the window's start to the
state now, per connection, so a join and leave inside one window cancel out and
several updates collapse into one leave-old/join-new. A viewer whose snapshot was
taken inside a window (:meth:`PresenceRoom.snapshot`, a subscribe) did not see the
window's start, so it is sent the change from its own snapshot instead: a tab that
joined and left around that snapshot is a leave for it, not nothing.

Large rooms: above ``large_room_threshold`` present users, viewers without a
full view (participants) see only their own entry; hosts and admins keep full
state and diffs. Crossing the threshold sends participants the diff between
their two views (leaves of everyone else, or joins of everyone). Everyone is sent
``participants.count`` when ``PresenceBatch.count_changed``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import msgspec

__all__ = ["Meta", "PresenceBatch", "PresenceDiff", "PresenceRoom"]

PresenceRole = Literal["host", "participant"]


class Meta(msgspec.Struct, frozen=True):
    """One connection's presence. ``joined_at`` is wall time, ISO 8601 (shown to clients)."""

    conn_id: str
    role: PresenceRole
    hand_raised: bool
    joined_at: str


State = dict[str, list[Meta]]


@dataclass(frozen=True, slots=True)
class PresenceDiff:
    joins: State = field(default_factory=dict)
    leaves: State = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.joins and not self.leaves

    def only(self, user_id: str) -> PresenceDiff:
        return PresenceDiff(
            {u: m for u, m in self.joins.items() if u == user_id},
            {u: m for u, m in self.leaves.items() if u == user_id},
        )


@dataclass(frozen=True, slots=True)
class PresenceBatch:
    """One window's changes. Ask :meth:`for_viewer` what each subscriber gets."""

    diff: PresenceDiff
    count: int
    count_changed: bool
    large: bool
    was_large: bool
    # Full states before/after the window; filled only when the room crossed the threshold.
    before: State = field(default_factory=dict)
    after: State = field(default_factory=dict)
    # Viewers that took their snapshot inside the window → the change since that snapshot.
    late: dict[Hashable, PresenceDiff] = field(default_factory=dict)

    def for_viewer(self, user_id: str, full_view: bool, viewer: Hashable = None) -> PresenceDiff | None:
        """The ``presence`` diff for one viewer, ``None`` when it has nothing to send."""
        if viewer is not None and viewer in self.late:
            out = self.late[viewer]
        elif full_view or not (self.large or self.was_large):
            out = self.diff
        elif self.large and not self.was_large:
            own = self.diff.only(user_id)
            others = {u: m for u, m in self.before.items() if u != user_id}
            out = PresenceDiff(own.joins, {**others, **own.leaves})
        elif self.was_large and not self.large:
            own = self.diff.only(user_id)
            others = {u: m for u, m in self.after.items() if u != user_id}
            out = PresenceDiff({**others, **own.joins}, own.leaves)
        else:
            out = self.diff.only(user_id)
        return None if out.is_empty() else out


class PresenceRoom:
    def __init__(self, window: float = 0.25, large_room_threshold: int = 200) -> None:
        if window <= 0:
            raise ValueError("window must be > 0")
        self.window = window
        self.large_room_threshold = large_room_threshold
        self._state: dict[str, dict[str, Meta]] = {}
        # Meta of each touched (user, conn) at the window's start; None: absent then.
        self._base: dict[tuple[str, str], Meta | None] = {}
        self._window_start: float | None = None
        self._count_at_start = 0
        # Snapshots taken inside the open window: viewer → (user id, full view, the state it was given).
        self._late: dict[Hashable, tuple[str, bool, State]] = {}

    # --- reading ---------------------------------------------------------------

    @property
    def count(self) -> int:
        """Present users (not connections)."""
        return len(self._state)

    def is_large(self) -> bool:
        return self.count > self.large_room_threshold

    def state(self) -> State:
        return {user: list(conns.values()) for user, conns in self._state.items()}

    def state_for(self, user_id: str, full_view: bool) -> State:
        """Current state as this viewer sees it (for the subscribe reply's ``presence``)."""
        if full_view or not self.is_large():
            return self.state()
        own = self._state.get(user_id)
        return {user_id: list(own.values())} if own else {}

    def snapshot(self, viewer: Hashable, user_id: str, full_view: bool) -> State:
        """:meth:`state_for`, remembered as ``viewer``'s baseline for the open window's diff."""
        state = self.state_for(user_id, full_view)
        if self._window_start is not None:
            self._late[viewer] = (user_id, full_view, state)
        return state

    # --- changes ---------------------------------------------------------------

    def join(self, user_id: str, meta: Meta, now: float) -> None:
        """Add (or replace) the meta of connection ``meta.conn_id`` of ``user_id``."""
        self._touch(user_id, meta.conn_id, now)
        self._state.setdefault(user_id, {})[meta.conn_id] = meta

    def leave(self, user_id: str, conn_id: str, now: float) -> None:
        conns = self._state.get(user_id)
        if conns is None or conn_id not in conns:
            return
        self._touch(user_id, conn_id, now)
        del conns[conn_id]
        if not conns:
            del self._state[user_id]

    def set_hand(self, user_id: str, raised: bool, now: float) -> None:
        """Raise or lower the hand on every connection of ``user_id``."""
        for conn_id, meta in list(self._state.get(user_id, {}).items()):
            if meta.hand_raised != raised:
                self._touch(user_id, conn_id, now)
                self._state[user_id][conn_id] = msgspec.structs.replace(meta, hand_raised=raised)

    def _touch(self, user_id: str, conn_id: str, now: float) -> None:
        if self._window_start is None:
            self._window_start = now
            self._count_at_start = self.count
        key = (user_id, conn_id)
        if key not in self._base:
            self._base[key] = self._state.get(user_id, {}).get(conn_id)

    # --- batching --------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return None if self._window_start is None else self._window_start + self.window

    def due(self, now: float) -> PresenceBatch | None:
        """Close the window if it has elapsed; ``None`` when nothing (net) changed."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return None
        joins: State = {}
        leaves: State = {}
        for (user, conn), old in self._base.items():
            new = self._state.get(user, {}).get(conn)
            if old == new:
                continue
            if old is not None:
                leaves.setdefault(user, []).append(old)
            if new is not None:
                joins.setdefault(user, []).append(new)
        was_large = self._count_at_start > self.large_room_threshold
        large = self.is_large()
        before: State = {}
        after: State = {}
        if large != was_large:
            after = self.state()
            before = _revert(after, self._base)
        late = {viewer: _between(seen, self.state_for(user, full_view))
                for viewer, (user, full_view, seen) in self._late.items()}
        self._base = {}
        self._late = {}
        self._window_start = None
        diff = PresenceDiff(joins, leaves)
        count_changed = self.count != self._count_at_start
        if diff.is_empty() and not count_changed and all(d.is_empty() for d in late.values()):
            return None
        return PresenceBatch(diff, self.count, count_changed, large, was_large, before, after, late)


def _between(before: State, after: State) -> PresenceDiff:
    """Per connection: metas gone or changed leave, metas new or changed join."""
    old = {(u, m.conn_id): m for u, metas in before.items() for m in metas}
    new = {(u, m.conn_id): m for u, metas in after.items() for m in metas}
    joins: State = {}
    leaves: State = {}
    for (user, conn), meta in old.items():
        if new.get((user, conn)) != meta:
            leaves.setdefault(user, []).append(meta)
    for (user, conn), meta in new.items():
        if old.get((user, conn)) != meta:
            joins.setdefault(user, []).append(meta)
    return PresenceDiff(joins, leaves)


def _revert(after: State, base: Mapping[tuple[str, str], Meta | None]) -> State:
    by_user: dict[str, dict[str, Meta]] = {u: {m.conn_id: m for m in metas} for u, metas in after.items()}
    for (user, conn), old in base.items():
        conns = by_user.setdefault(user, {})
        if old is None:
            conns.pop(conn, None)
        else:
            conns[conn] = old
    return {u: list(c.values()) for u, c in by_user.items() if c}
