"""Benchmarks of the hub against baselines and peers measured in the same run: `python -m bench all`.

Absolute numbers on a shared machine mean little; every figure is a ratio hub ÷ baseline, both
measured by the same load client within minutes of each other. See docs/benchmarks.md.
"""
