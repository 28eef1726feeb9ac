"""The hub: a Litestar app serving REST and the /ws realtime protocol. Start with `create_app`."""

from hub.app import create_app
from hub.settings import Settings

__all__ = ["Settings", "create_app"]
