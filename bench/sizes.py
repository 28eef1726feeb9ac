"""How big each scenario runs: `tiny` (the smoke test: seconds), `small` (a few minutes), `full`
(the issue's numbers: up to 5,000 subscribers and 20,000 idle connections)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    workers: int  # load-client processes for fan-out (the machine has 2 cores; the server needs one)
    fanout_subscribers: tuple[int, ...]
    fixed_rate: float  # events per second in the paced phase, at most …
    fixed_deliveries: float  # … and at most this many deliveries per second (events/s × subscribers),
    fixed_seconds: float  # so the paced phase measures the server, not a saturated load client
    max_events: int
    e2e_subscribers: int
    e2e_writes: int
    e2e_rate: float
    idle_connections: tuple[int, ...]
    vote_subscribers: int
    vote_rate: float
    vote_seconds: float
    peer_subscribers: int
    rest_seconds: float
    rest_connections: int
    collect_quiet_s: float  # a phase ends after this long without a frame
    thread_comments: int = 5000  # comments in the deep threads scenario's big thread
    thread_requests: int = 200  # timed requests per thread and repetition
    search_posts: int = 2000  # the search scenario's generated corpus …
    search_comments: int = 20_000
    search_requests: int = 300  # … and its timed searches


SIZES = {
    "tiny": Size("tiny", workers=1, fanout_subscribers=(5,), fixed_rate=20, fixed_deliveries=10_000,
                 fixed_seconds=0.5, max_events=30, e2e_subscribers=5, e2e_writes=5, e2e_rate=10,
                 idle_connections=(20,), vote_subscribers=5, vote_rate=200, vote_seconds=1, peer_subscribers=5,
                 rest_seconds=1, rest_connections=4, collect_quiet_s=1.0, thread_comments=600, thread_requests=20,
                 search_posts=200, search_comments=2000, search_requests=30),
    "small": Size("small", workers=2, fanout_subscribers=(100, 1000), fixed_rate=50, fixed_deliveries=10_000,
                  fixed_seconds=3, max_events=300, e2e_subscribers=1000, e2e_writes=50, e2e_rate=10,
                  idle_connections=(1000,), vote_subscribers=1000, vote_rate=2000, vote_seconds=3,
                  peer_subscribers=1000, rest_seconds=3, rest_connections=16, collect_quiet_s=3.0),
    "full": Size("full", workers=2, fanout_subscribers=(100, 1000, 5000), fixed_rate=100, fixed_deliveries=10_000,
                 fixed_seconds=10, max_events=2000, e2e_subscribers=1000, e2e_writes=200, e2e_rate=10,
                 idle_connections=(1000, 10_000, 20_000), vote_subscribers=1000, vote_rate=2000, vote_seconds=10,
                 peer_subscribers=1000, rest_seconds=10, rest_connections=32, collect_quiet_s=5.0,
                 search_posts=100_000, search_comments=1_000_000, search_requests=600),
}


def paced_rate(size: Size, subscribers: int) -> float:
    """Events per second of the paced phase for this many subscribers."""
    return min(size.fixed_rate, size.fixed_deliveries / subscribers)


def paced_events(size: Size, subscribers: int) -> int:
    return max(5, round(paced_rate(size, subscribers) * size.fixed_seconds))
