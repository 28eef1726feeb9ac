"""The typed wiring on `Services`: started parts found by their class, readiness checks by part name."""

import asyncio

import pytest

from hub.services import Readiness, StartedParts


class _Counter:
    pass


class _Gateway:
    pass


def test_a_started_part_is_found_by_its_class_and_gone_once_removed() -> None:
    parts = StartedParts()
    counter = _Counter()
    parts.add(counter)
    assert parts.get(_Counter) is counter
    assert parts.find(_Gateway) is None
    with pytest.raises(LookupError, match="_Gateway is not started"):
        parts.get(_Gateway)
    parts.remove(_Counter)
    assert parts.find(_Counter) is None


def test_readiness_checks_are_kept_by_part_name_in_registration_order() -> None:
    readiness = Readiness()

    async def ready() -> str | None:
        return None

    async def draining() -> str | None:
        return "draining"

    readiness.add("listener", ready)
    readiness.add("draining", draining)
    assert [name for name, _ in readiness] == ["listener", "draining"]
    assert [asyncio.run(check()) for _, check in readiness] == [None, "draining"]
