"""Lambda entry points: one thin module per route, plus the one-shot jobs.

A handler's import creates tens of thousands of long-lived objects, and the garbage
collector would walk them ~200 times while they load. It is paused here and resumed
(with those objects frozen out of later collections) once the handler is built: see
shared.core.boot.resume_collector, which build_handler and the jobs call. FastAPI's check
for pydantic v1 models is answered without loading pydantic.v1: see
shared.adapters.fastapi_v1_check.
"""

import gc

from shared.adapters.fastapi_v1_check import forgo_pydantic_v1

gc.disable()
forgo_pydantic_v1()
