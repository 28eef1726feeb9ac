"""`SMTP_URL`: where outgoing mail goes, as one URL.

`smtp://host:port` is plain SMTP (a loopback relay, the test server), `smtp+starttls://` upgrades with
STARTTLS (default port 587), `smtps://` is TLS from the first byte (default 465). `user:password@` logs in;
both are percent-decoded, so a password may hold `@`, `:` or `/` as `%40`, `%3A`, `%2F`. The password is
kept out of `repr` and of every message here: a bad URL is reported without echoing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

Security = Literal["plain", "starttls", "tls"]

_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(value: str) -> SmtpTarget:
    """The target of an `SMTP_URL`; ValueError (naming no part of the URL) when it is not one."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError("must be a URL starting with " + " or ".join(f"{s}://" for s in _SCHEMES))
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be scheme://[user:password@]host[:port] with nothing after it")
    security, default_port = _SCHEMES[scheme]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ValueError("must give both a user and a password, or neither")
    return SmtpTarget(parts.hostname, port or default_port, security, username, password)
