"""Performance bench for the task API: `make bench` (python -m bench.run).

Not part of the pass/fail test run: it measures round trips, latency, cold start,
memory, package size and throughput against a private local stack and prints the
figures beside their budgets (see docs/performance.md).
"""
