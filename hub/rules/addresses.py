"""The subject a per-address budget counts: one IPv4 address, or one IPv6 /64.

An IPv6 subscriber is routinely handed a whole /64 (SLAAC, privacy addresses rotate inside it), so keying
budgets by the full IPv6 address would give one client 2^64 budgets. An IPv4-mapped IPv6 address counts
as its IPv4 address. Anything that is not an address (a test transport, a Unix socket) is kept as it is.
"""

from __future__ import annotations

import ipaddress

__all__ = ["budget_subject"]


def budget_subject(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
