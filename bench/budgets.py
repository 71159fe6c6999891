"""The bench's budgets, each written once.

bench/report.py checks each figure against its budget here and prints the budget column
from the same value; docs/performance.md says what each one protects. No budget is a
fixed number of milliseconds: a time is judged against a model or a ratio measured in the
same run, so a slower or busier machine moves figure and budget together, and what is
left over is the code's.
"""

from __future__ import annotations

MB = 1024 * 1024

# 1. A connection's set-up (TLS, SCRAM, the closing Terminate), counted at the socket.
SETUP_FLIGHTS = 6
# 1. A warm NullPool call: the connection's set-up + this many.
NULLPOOL_FLIGHTS_BEYOND_SETUP = 1
# 1-2. A cold container's first call, in both modes: opening its connection + this many
#    (the dialect's facts come from the server's startup report, not from statements).
FIRST_CALL_FLIGHTS_BEYOND_SETUP = 1
# 1. A connection's set-up with sslnegotiation=direct, against PostgreSQL 17+: the
#    SSLRequest's round trip saved.
DIRECT_TLS_SETUP_FLIGHTS = SETUP_FLIGHTS - 1
# 2. A warm call on a kept connection (DB_REUSE_CONNECTION=true): the statement alone (the
#    socket is checked before use without a round trip, shared/db/liveness.py).
REUSE_MAX_FLIGHTS = 1
# 3. Latency at an emulated RTT, against a model measured in the same run: the route's own
#    median with no delay injected (its CPU, the pooler's and the database's time) with this
#    margin, plus the mode's round trips above, and this many more, × the RTT the proxy
#    really added. Half a round trip: one more round trip than budgeted cannot hide in it.
#    30 %: a call that waits is slower than the same call at 0 ms beyond its RTTs (its CPU
#    comes back to cold caches, and under load waits for a core): NullPool calls at 1 ms
#    RTT took 1-5 ms more on the 2-core development VM under a load of 3 to 9.
LATENCY_BASELINE_MARGIN = 0.30
LATENCY_SPARE_ROUND_TRIPS = 0.5
# 3. CPU time per call (no delay injected), in requests to bench/floor.py timed back to
#    back in the same rounds: what each route cost on the 2-core development VM at
#    b6f2b84 (the median of 3 runs, rounded up to a half; the runs spread by ±3-7 %, and
#    reuse's health and complete by ±12 %, under a load of 4.5 to 9), and the margin over
#    it. By connection mode, then function (serverless.yml's names); a route without a
#    figure here misses.
CPU_FLOOR_REQUESTS: dict[str, dict[str, float]] = {
    "nullpool": {
        "createTask": 50.5,
        "listTasks": 56.5,
        "getTask": 42.5,
        "replaceTask": 47.5,
        "updateTask": 45.0,
        "completeTask": 47.5,
        "health": 29.5,
        "deleteTask": 42.0,
    },
    "reuse": {
        "createTask": 27.0,
        "listTasks": 36.0,
        "getTask": 21.0,
        "replaceTask": 25.0,
        "updateTask": 23.5,
        "completeTask": 25.0,
        "health": 10.0,
        "deleteTask": 20.5,
    },
}
CPU_MARGIN = 0.15
# 4. A task handler module's import ≤ this × bench/floor.py's, timed in the same rounds.
COLD_START_FLOOR_RATIO = 1.05
# 5. RSS growth over the warm invocations stays under this.
MEMORY_GROWTH_BYTES = 5 * MB
# 5. Lambda's own limits on a function's package (reported beside the sizes, not checked).
LAMBDA_ZIPPED_LIMIT = 50 * MB  # direct upload
LAMBDA_UNZIPPED_LIMIT = 250 * MB
# 6. Errors allowed in the concurrent run.
THROUGHPUT_MAX_ERRORS = 0
