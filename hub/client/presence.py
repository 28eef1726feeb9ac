"""A presence channel's state on the client: replaced from a subscribe reply, then kept from diffs (pure).

The hub sends a changed meta (a raised hand) as a leave of the old one and a join of the new one; a user's
second connection joins with its own meta. So leaves apply first, matched by ``conn_id``, then joins, and a
user with no meta left is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.client.frames import Presence, PresenceEntry

__all__ = ["PresenceState", "apply_diff", "from_entries"]

PresenceState = dict[str, list[dict[str, Any]]]  # user id → the metas of their connections


def from_entries(entries: Mapping[str, PresenceEntry] | None) -> PresenceState:
    return {user: list(entry.metas) for user, entry in (entries or {}).items()}


def apply_diff(state: PresenceState, diff: Presence) -> None:
    """Apply ``diff`` to ``state`` in place."""
    for user, entry in diff.leaves.items():
        gone = {meta.get("conn_id") for meta in entry.metas}
        kept = [meta for meta in state.get(user, []) if meta.get("conn_id") not in gone]
        if kept:
            state[user] = kept
        else:
            state.pop(user, None)
    for user, entry in diff.joins.items():
        metas = state.setdefault(user, [])
        for meta in entry.metas:
            metas[:] = [m for m in metas if m.get("conn_id") != meta.get("conn_id")]
            metas.append(meta)
