"""Field types shared by request structs of several route families."""

from __future__ import annotations

from typing import Annotated

import msgspec

# A link a client stores for others to open (an avatar, a meeting, a recording): http(s) with a host, no
# spaces, control characters (C0 and C1) or invisible/bidirectional formatting characters (U+202E makes a
# link read as another). Anything else (`javascript:`, `data:`) would run or render in every viewer's
# browser once shown or broadcast; 2,048 characters is what browsers and proxies reliably keep.
# Migration 0017's CHECK constraints hold the same character list; `\Z`, not `$`, which also matches
# before a final newline.
_NOT_IN_URL = r"\x00-\x20\x7f-\xa0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff"
HttpUrl = Annotated[str, msgspec.Meta(
    max_length=2048, pattern=rf"^(?i:https?)://[^{_NOT_IN_URL}/?#@]+(?:[/?#][^{_NOT_IN_URL}]*)?\Z")]

# An email address as the account routes take it (surrounding spaces allowed, dropped before use).
EmailAddress = Annotated[str, msgspec.Meta(min_length=3, max_length=254,
                                           pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*\Z")]
# The token of a mailed link: 43 URL-safe characters as the hub mails them; room for others, never unbounded.
LinkToken = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
