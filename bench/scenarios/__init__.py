"""One module per scenario; each has `async def run(ctx) -> list[Row]`."""

from bench.scenarios import e2e, fanout, idle, peers, rest, search, threads, votes

SCENARIOS = {
    "fanout": fanout.run,
    "e2e": e2e.run,
    "idle": idle.run,
    "votes": votes.run,
    "peers": peers.run,
    "rest": rest.run,
    "threads": threads.run,
    "search": search.run,
}

__all__ = ["SCENARIOS"]
