"""Structured (JSON lines) logging, uvicorn's own lines included. Tokens, passwords and secrets are never
passed to a logger; credentials a client put in a URL's query string are redacted from every line."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

# Query parameters that carry a credential (the SSE ticket, tokens): uvicorn logs each request's path with
# its query string, in access lines and in its websocket lines on `uvicorn.error`.
SECRET_QUERY_PARAMS = ("ticket", "token", "access_token")
REDACTED = "[redacted]"
_SECRET_QUERY_VALUE = re.compile(r"([?&](?:" + "|".join(SECRET_QUERY_PARAMS) + r")=)[^&#\s\"]*", re.IGNORECASE)

# uvicorn configures these with plain-text handlers of its own before it loads the app.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# uvicorn's `--log-config` (the Procfile, `hub serve`): JSON from the first line, the supervisor's of several
# workers too; each worker's app factory then sets the level (`configure_logging`).
UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn_logging.json")
_ACCESS_ARGS = 5  # uvicorn's access line: client address, method, path with query, HTTP version, status


def redact(text: str) -> str:
    return _SECRET_QUERY_VALUE.sub(lambda match: match.group(1) + REDACTED, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == _ACCESS_ARGS:
            client, method, path, http_version, status = record.args
            entry.update(client=str(client), method=str(method), path=redact(str(path)),
                         http_version=str(http_version), status=status)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Every line as JSON on stderr, uvicorn's too: its loggers lose their own handlers and propagate to
    the root's (their levels stay uvicorn's `--log-level`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
