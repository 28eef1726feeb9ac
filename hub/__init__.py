"""The hub: a Litestar app serving REST and the /ws realtime protocol. Start with `create_app`.

`create_app` and `Settings` load on first use, so `import hub.client` (the asyncio client) pulls in neither
Litestar nor asyncpg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.app import create_app
    from hub.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hub.app import create_app

        return create_app
    if name == "Settings":
        from hub.settings import Settings

        return Settings
    raise AttributeError(f"module 'hub' has no attribute {name!r}")
