"""Servers the hub is measured against in the same run, each the least code that does the job.

Their wire is the same: subscribers connect to `/ws` and get `{"op":"hello"}` once registered; a
publisher connects to `/pub` and every text frame it sends goes, unchanged, to every subscriber.
"""
