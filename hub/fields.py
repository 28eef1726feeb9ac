"""Field types shared by request structs of several route families."""

from __future__ import annotations

from typing import Annotated

import msgspec

# A link a client stores for others to open (an avatar, a meeting, a recording): http(s) with a host, no
# whitespace or control characters. Anything else (`javascript:`, `data:`) would run or render in every
# viewer's browser once shown or broadcast; 2,048 characters is what browsers and proxies reliably keep.
HttpUrl = Annotated[str, msgspec.Meta(max_length=2048,
                                      pattern=r"^(?i:https?)://[^\s\x00-\x1f\x7f/?#@]+(?:[/?#][^\s\x00-\x1f\x7f]*)?$")]
