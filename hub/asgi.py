"""ASGI entry for uvicorn workers: `uvicorn hub.asgi:create --factory` (the Procfile's `web:`)."""

from __future__ import annotations

import gc

from litestar import Litestar

from hub.app import create_app
from hub.logs import configure_logging
from hub.settings import Settings, SettingsError


def create() -> Litestar:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if settings.database_url is None:
        raise SettingsError("DATABASE_URL: required for uvicorn workers (`python -m hub serve` sets it "
                            "when it starts the embedded server)")
    app = create_app(settings, settings.database_url)
    # Everything imported and built so far lives as long as the process: out of the collector's reach, a full
    # collection scans only what connections and requests made since (docs/benchmarks.md, "Where the paced
    # p99 goes"). Here, not in `create_app`: a test process builds and drops many apps.
    gc.freeze()
    return app
