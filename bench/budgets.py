"""The bench's budgets, each written once.

bench/report.py checks each figure against its budget here and prints the budget column
from the same value; docs/performance.md says what each one protects.
"""

from __future__ import annotations

MB = 1024 * 1024

# 1. A warm NullPool call: the connection's set-up (TLS, SCRAM, Terminate) + this many.
NULLPOOL_FLIGHTS_BEYOND_SETUP = 1
# 1-2. A cold container's first call, in both modes: opening its connection + this many
#    (the dialect's facts come from the server's startup report, not from statements).
FIRST_CALL_FLIGHTS_BEYOND_SETUP = 1
# 1. A connection's set-up with sslnegotiation=direct, against PostgreSQL 17+ (6 without).
DIRECT_TLS_SETUP_FLIGHTS = 5
# 2. A warm call on a kept connection (DB_REUSE_CONNECTION=true): the ping and the statement.
REUSE_MAX_FLIGHTS = 2
# 3. Median latency ≤ round trips × RTT + this: all that is not network (the handler's CPU,
#    TLS and SCRAM work in the client and the pooler, the database's own time).
LATENCY_SLACK_S = 0.005
# 4. A task handler module's import ≤ this × bench/floor.py's, timed in the same rounds.
COLD_START_FLOOR_RATIO = 1.05
# 5. RSS growth over the warm invocations stays under this.
MEMORY_GROWTH_BYTES = 5 * MB
# 5. Lambda's own limits on a function's package (reported beside the sizes, not checked).
LAMBDA_ZIPPED_LIMIT = 50 * MB  # direct upload
LAMBDA_UNZIPPED_LIMIT = 250 * MB
# 6. Errors allowed in the concurrent run.
THROUGHPUT_MAX_ERRORS = 0
