"""Where tests put lessons. `(level_id, gate_id)` is unique and the whole run shares one database from one
process, so every lesson a test makes takes a level or a gate that no other lesson of the run can hold: the
numbers come from counters of this process, not from random draws (a birthday draw of ~150 gates out of the
API's million met about once in 100 runs; any draw can land in another test's fixed block, as the search
corpus's did), so no two tests meet whatever their order.

- `unique_levels` / `unique_level`: levels above every level the REST API accepts, for lessons inserted
  straight into the table (at any gate, gate 1 is usual).
- `api_level`: a level of the API's range no other test lists, for lessons made through the API (at any gate).
- `api_gates` / `api_gate`: gates of the API's range for lessons at a level other tests share too (1 is
  free, 2 and 3 paid, up to 1,000 a plan reaches): no other such lesson of the run has one of them.

Own levels (`unique_level`, `api_level`) start above every level a plan reaches (1,000), so a lesson at a
shared level and one at an own level never share a level, whatever their gates."""

from __future__ import annotations

from dataclasses import dataclass

API_MAX = 1_000_000  # the REST API's largest level and gate
LAST = 2**31 - 1  # lessons.level_id is an integer


@dataclass
class _Numbers:
    """The next numbers of a range, each handed out once in the run."""

    first_free: int
    last: int

    def take(self, count: int) -> range:
        taken = range(self.first_free, self.first_free + count)
        assert taken.stop - 1 <= self.last, "the run used up its range"
        self.first_free = taken.stop
        return taken


_levels = _Numbers(10_000_000, LAST)
_api_levels = _Numbers(100_000, API_MAX)
_gates = _Numbers(1, API_MAX)


def unique_levels(count: int) -> range:
    """`count` consecutive levels, above the API's, no other test holds."""
    return _levels.take(count)


def unique_level() -> int:
    return unique_levels(1)[0]


def api_level() -> int:
    """A level the API accepts that no other test uses."""
    return _api_levels.take(1)[0]


def api_gates(count: int) -> range:
    """`count` consecutive gates the API accepts that no other lesson at a shared level has."""
    return _gates.take(count)


def api_gate() -> int:
    return api_gates(1)[0]
