"""What posts and comments share: the feed and thread channels, the author block and who may change what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import msgspec

from hub.errors import Forbidden
from persistence.identity import Identity

# PostgreSQL text cannot hold NUL; refusing it in request bodies keeps it a 422 instead of a database error.
NO_NUL = r"^[^\x00]*$"

class Author(msgspec.Struct):
    """The author block of a post or comment, from the author's profile."""

    id: UUID
    full_name: str | None
    avatar_url: str | None


class Removed(msgspec.Struct):
    """The data of an event announcing that something is gone (`post.deleted`, `chat.deleted`)."""

    id: UUID


def author_view(row: Mapping[str, Any]) -> Author:
    """The author block of a post or comment row (`author_*` columns from the author's profile)."""
    return Author(id=row["author_id"], full_name=row["author_full_name"], avatar_url=row["author_avatar_url"])


def require_author_or_admin(identity: Identity, author_id: UUID) -> None:
    if author_id != identity.user_id and not identity.is_admin:
        raise Forbidden("Only the author or an admin may do this")


def require_announcement_rights(identity: Identity, post_type: object) -> None:
    if post_type == "announcement" and not identity.is_admin:
        raise Forbidden("Only admins post announcements")
