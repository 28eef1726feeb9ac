"""Per-address budgets count an IPv4 address or an IPv6 /64."""

from __future__ import annotations

from hub.rules.addresses import budget_subject


def test_ipv4_addresses_count_alone() -> None:
    assert budget_subject("203.0.113.7") == "203.0.113.7"
    assert budget_subject("203.0.113.8") != budget_subject("203.0.113.7")


def test_ipv6_addresses_in_one_slash_64_share_a_subject() -> None:
    first = budget_subject("2001:db8:1:2:aaaa::1")
    assert first == "2001:db8:1:2::/64"
    assert budget_subject("2001:db8:1:2:ffff:ffff:ffff:fffe") == first
    assert budget_subject("2001:db8:1:3::1") != first


def test_ipv4_mapped_ipv6_counts_as_its_ipv4_address() -> None:
    assert budget_subject("::ffff:203.0.113.7") == "203.0.113.7"


def test_a_host_that_is_not_an_address_is_kept() -> None:
    assert budget_subject("testclient") == "testclient"
    assert budget_subject("unknown") == "unknown"
