"""The local Lambda runtime in process form: each function's warm worker processes.

Lambda gives an execution environment one invocation at a time and keeps it warm for
the next; when all of a function's environments are busy, another starts (a cold start),
up to the function's reserved concurrency. ``Workers`` does the same with processes:
each ``Worker`` is ``python -m infra.local.runtime.bootstrap`` in the repository (its
main loop), started with this process's environment, Lambda's variables for the
function and the function's own (``FunctionSpec``), importing its handler once. An
invocation takes an idle worker (the one used last) or starts one; when the function
is at its limit it waits for one to be free (Lambda would throttle instead). What a
worker prints is echoed as it comes (the gateway's console; a test's captured
stdout) and kept per invocation (``Invocation.logs``).

As on Lambda, a handler that raises answers the runtime's error payload and its process
stays warm; a process that exits mid-invocation answers ``Runtime.ExitError`` and one
that outlives the function's timeout is killed (``Sandbox.Timedout``); either is gone,
and the next invocation starts a fresh one. ``LAMBDA_RUNTIME=rie`` (infra/local/runtime/
fleet.py) runs the packaged zips under Lambda's own runtime instead.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import IO, Any

from infra import ROOT
from infra.local.runtime.fleet import FunctionSpec, Invocation
from infra.serverless.function_env import variables
from infra.serverless.routes import document, function

__all__ = ["DEFAULT_LIMIT", "FunctionError", "Worker", "Workers", "serverless_workers"]

BOOTSTRAP = "infra.local.runtime.bootstrap"
# A function without reserved concurrency shares the account's (1,000 by default) on
# Lambda; here it gets a few processes (a warm one holds about 70 MB).
DEFAULT_LIMIT = 10
OUTPUT_WAIT = 5.0  # REPORT is printed before the answer is sent; allow for a loaded machine
Echo = Callable[[str], None]


class FunctionError(Exception):
    """The function failed (raised, crashed or timed out): API Gateway answers 500."""


def _print(line: str) -> None:
    print(line, flush=True)


def _lambda_variables(spec: FunctionSpec) -> dict[str, str]:
    """What Lambda tells the function about itself, and the handler its runtime loads."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
        "_HANDLER": spec.handler,
    }


class Worker:
    """One warm process hosting one function; ``invoke`` is one invocation at a time."""

    def __init__(self, spec: FunctionSpec, echo: Echo | None = _print) -> None:
        self.spec = spec
        self._echo = echo
        self._lines: list[str] = []
        self._seen = threading.Condition()
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", BOOTSTRAP, str(theirs.fileno())],
                cwd=spec.code,
                env={**os.environ, **_lambda_variables(spec), **spec.environment},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=[theirs.fileno()],
                encoding="utf-8",
                errors="replace",
            )
        self._connection = Connection(ours.detach())
        self._init_ms: float | None = None  # set once the init phase has finished
        assert self._process.stdout is not None
        output = threading.Thread(target=self._collect, args=(self._process.stdout,), daemon=True)
        output.start()
        self._output = output

    @property
    def pid(self) -> int:
        """The process's id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._process.poll() is None

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            if self._echo is not None:
                self._echo(line.rstrip("\n"))
            with self._seen:
                self._lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    def ready(self) -> None:
        """Wait for the init phase (the handler's import) to finish."""
        try:
            initialised = self._initialised()
        except TimeoutError:
            initialised = False
        if not initialised:
            raise FunctionError(f"{self.spec.name}: init failed or hung (its output says why)")

    def invoke(self, event: Any) -> Invocation:
        """Invoke the function once; a crash or a timeout comes back as the runtime's error."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        with self._seen:
            mark = len(self._lines)
        try:
            raw, hung = self._answer(request_id, event), False
        except TimeoutError:
            raw, hung = None, True
        payload = json.loads(raw) if raw is not None else self._failure(request_id, hung)
        logs = self._logs(mark, request_id if raw is not None else None)
        return Invocation(payload, request_id, logs, time.monotonic() - started)

    def _answer(self, request_id: str, event: Any) -> bytes | None:
        """The function's answer; None if the process exited first."""
        if not self._initialised():
            return None
        try:
            self._connection.send_bytes(
                json.dumps({"requestId": request_id, "event": event}).encode()
            )
        except OSError:
            return None
        return self._receive()

    def _initialised(self) -> bool:
        """Wait for the init phase; False if the process exited during it."""
        if self._init_ms is None:
            message = self._receive()
            if message is None:
                return False
            self._init_ms = float(json.loads(message)["initMs"])
        return True

    def _receive(self) -> bytes | None:
        """The process's next message; None once it has gone. TimeoutError: none within the
        function's timeout."""
        try:
            if self._connection.poll(self.spec.timeout_s):
                return self._connection.recv_bytes()
        except (EOFError, OSError):
            return None
        raise TimeoutError

    def _failure(self, request_id: str, hung: bool) -> dict[str, str]:
        """The runtime's error for a process that exited, or outlived the timeout (killed)."""
        if hung:
            self._process.kill()  # as Lambda ends an invocation past its timeout
        self.wait(OUTPUT_WAIT)
        self._output.join(OUTPUT_WAIT)  # what it printed before it went is in the logs
        if hung:
            kind = "Sandbox.Timedout"
            message = f"{request_id} Task timed out after {self.spec.timeout_s:.2f} seconds"
        else:
            kind = "Runtime.ExitError"
            status = self._process.returncode
            message = (
                f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
            )
        if self._echo is not None:
            self._echo(f"{message}\n{kind}")
        return {"errorType": kind, "errorMessage": message}

    def _logs(self, mark: int, request_id: str | None) -> list[str]:
        """The lines printed since ``mark``, up to the request's REPORT line (its last)."""
        last = f"REPORT RequestId: {request_id}\t"
        deadline = time.monotonic() + OUTPUT_WAIT
        with self._seen:
            while request_id is not None and not any(last in line for line in self._lines[mark:]):
                if not self._seen.wait(max(0.0, deadline - time.monotonic())):
                    break
            logs = self._lines[mark:]
            del self._lines[:]  # a warm worker keeps no history
        return logs

    def stop(self) -> None:
        """End the process (a warm one exits when its connection closes)."""
        self.hang_up()
        self.wait()

    def hang_up(self) -> None:
        """Close the connection: a warm process then exits by itself."""
        self._connection.close()

    def wait(self, timeout: float = 2.0) -> None:
        """Wait for the process to exit; kill it after ``timeout`` seconds."""
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass
class _Pool:
    """One function's processes, and those of them waiting for an invocation."""

    spec: FunctionSpec
    limit: int
    workers: list[Worker] = field(default_factory=list)
    idle: list[Worker] = field(default_factory=list)

    def take(self) -> Worker | None:
        """The idle worker used last (the warmest); one that died while idle is dropped."""
        while self.idle:
            worker = self.idle.pop()
            if worker.alive:
                return worker
            self.drop(worker)
        return None

    def start(self, echo: Echo | None) -> Worker:
        worker = Worker(self.spec, echo)
        self.workers.append(worker)
        return worker

    def drop(self, worker: Worker) -> None:
        self.workers.remove(worker)
        worker.stop()


class Workers:
    """Each function's warm worker processes, started as invocations need them.

    ``specs`` maps serverless.yml's function names to their specs, or makes one when a
    function is first invoked; ``limit`` is how many processes a function may have at
    once. Workers are an invoker (the gateway's seam): ``workers(name, event)`` is the
    function's answer, and ``FunctionError`` when it failed.
    """

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec] | Callable[[str], FunctionSpec],
        limit: int | Callable[[str], int] = DEFAULT_LIMIT,
        echo: Echo | None = _print,
    ) -> None:
        self._spec_for = specs.__getitem__ if isinstance(specs, Mapping) else specs
        self._limit_for = limit if callable(limit) else (lambda _: limit)
        self._echo = echo
        self._pools: dict[str, _Pool] = {}
        self._changed = threading.Condition()
        self._closed = False

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        """The payload ``function`` answers ``event`` with; FunctionError if it failed."""
        invocation = self.invoke(function, event)
        if invocation.function_error:
            raise FunctionError(f"{function}: {invocation.payload['errorType']}")
        return invocation.payload

    def invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        """One invocation of ``function``, in a worker process that has no other meanwhile."""
        worker = self._acquire(function)
        try:
            return worker.invoke(event)
        finally:
            self._release(function, worker)

    def provision(self, function: str, count: int) -> None:
        """Have ``count`` warm workers of ``function`` (Lambda's provisioned concurrency)."""
        with self._changed:
            pool = self._pool(function)
            wanted = min(count, pool.limit) - len(pool.workers)
        started = [self._acquire(function, new=True) for _ in range(wanted)]
        try:
            for worker in started:
                worker.ready()
        finally:
            for worker in started:
                self._release(function, worker)

    def pids(self, function: str) -> list[int]:
        """The process ids of ``function``'s workers, idle or busy."""
        with self._changed:
            return [worker.pid for worker in self._pool(function).workers]

    def _pool(self, function: str) -> _Pool:
        if function not in self._pools:
            spec = self._spec_for(function)
            self._pools[function] = _Pool(spec, self._limit_for(function))
        return self._pools[function]

    def _acquire(self, function: str, new: bool = False) -> Worker:
        """An idle warm worker, else a new one when the limit allows, else the next freed."""
        with self._changed:
            pool = self._pool(function)
            while True:
                worker = None if new else pool.take()
                if worker is not None:
                    return worker
                if len(pool.workers) < pool.limit:
                    return pool.start(self._echo)
                self._changed.wait()

    def _release(self, function: str, worker: Worker) -> None:
        with self._changed:
            pool = self._pools[function]
            if worker.alive and not self._closed:
                pool.idle.append(worker)
            else:
                pool.drop(worker)
            self._changed.notify_all()

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when their invocation ends."""
        with self._changed:
            self._closed = True
            idle = [worker for pool in self._pools.values() for worker in pool.idle]
            for pool in self._pools.values():
                pool.workers = [worker for worker in pool.workers if worker not in pool.idle]
                pool.idle.clear()
        for worker in idle:
            worker.hang_up()  # all at once: each takes a moment to exit
        for worker in idle:
            worker.wait()


def serverless_workers(
    stage: str = "dev", limit: int | None = None, echo: Echo | None = _print
) -> Workers:
    """serverless.yml's functions as ``stage`` names them, with their timeout and memory,
    each in up to its reserved concurrency of processes (``limit`` instead, if given)."""
    resolver = variables(stage)
    service = resolver.resolve("${self:service}")

    def spec_for(name: str) -> FunctionSpec:
        declared = document()["functions"][name]
        return FunctionSpec(
            name=f"{service}-{stage}-{name}",
            handler=function(name).handler,
            code=ROOT,
            memory_mb=int(resolver.resolve(declared.get("memorySize", 1024))),
            timeout_s=int(resolver.resolve(declared.get("timeout", 6))),
        )

    def reserved(name: str) -> int:
        declared = document()["functions"][name].get("reservedConcurrency")
        return DEFAULT_LIMIT if declared is None else int(resolver.resolve(declared))

    return Workers(spec_for, reserved if limit is None else limit, echo)
