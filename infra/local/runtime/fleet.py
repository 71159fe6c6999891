"""Run packaged functions the way Lambda runs them: one warm execution environment each.

A ``LambdaRuntime`` is one emulated execution environment: the Runtime Interface
Emulator (infra/local/runtime/emulator.py) on two loopback ports of its own, hosting ``python -m
awslambdaric <handler>`` in the unzipped code directory with Lambda's environment
variables, the function's own environment and nothing of this virtualenv importable
but the runtime client. ``invoke`` posts an event as Lambda's Invoke API does and
returns the payload, the request id the runtime gave it and that request's log lines.
A ``Fleet`` keeps one warm runtime per function, started on first use; its ``invoke``
takes (function name, event), the seam the local gateway and the rehearsal share.

What the emulator does not do: IAM (no role is assumed; no credentials are set), API
Gateway (events are posted as they are), concurrency (one invocation at a time per
runtime), the read-only /var/task (the code stays writable so that a test can see
whether the runtime wrote anything, e.g. bytecode), and memory limits (it reports 3008 MB).
Unlike Lambda it answers a function error with status 200 and no X-Amz-Function-Error
header: ``Invocation.function_error`` recognises the runtime client's error payload.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra.local.neon_local import free_port
from infra.local.runtime import emulator
from infra.packaging import package_build

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
REGION = "us-east-1"
START_TIMEOUT = 10.0  # the emulator listens within ~50 ms
LOG_WAIT = 5.0  # END is written right after the answer; allow for a loaded machine
_START = re.compile(r"^START RequestId: (\S+)", re.MULTILINE)
_INIT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
Invoker = Callable[[str, dict[str, Any]], Any]


class RuntimeFailed(Exception):
    """An emulated runtime did not start or did not answer; the message has its output."""


@dataclass(frozen=True)
class FunctionSpec:
    """What Lambda knows about a function: its name, handler, code and configuration."""

    name: str  # the deployed name, e.g. todo-api-dev-health
    handler: str  # functions/health.handler
    code: Path  # the unzipped package: Lambda's /var/task
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 1024
    timeout_s: int = 25
    opt: Path | None = None  # its layers, unzipped in order: Lambda's /opt

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        code: Path,
        extra: Mapping[str, str] | None = None,
        opt: Path | None = None,
    ) -> FunctionSpec:
        """From Lambda's configuration: a GetFunctionConfiguration answer or the template's
        AWS::Lambda::Function properties (same keys), ``extra`` over its environment."""
        environment = dict((config.get("Environment") or {}).get("Variables") or {})
        return cls(
            name=str(config["FunctionName"]),
            handler=str(config["Handler"]),
            code=code,
            environment={**environment, **(extra or {})},
            memory_mb=int(config.get("MemorySize", 128)),
            timeout_s=int(config.get("Timeout", 3)),
            opt=opt,
        )


@dataclass(frozen=True)
class Invocation:
    """One invoke: the decoded payload, the runtime's request id, that request's logs."""

    payload: Any
    request_id: str
    logs: list[str]
    seconds: float

    @property
    def function_error(self) -> bool:
        """The handler raised: the payload is the runtime client's error object."""
        return isinstance(self.payload, dict) and {"errorType", "errorMessage"} <= set(self.payload)

    def records(self) -> list[dict[str, Any]]:
        """The request's structured (JSON) log lines, e.g. Powertools' records."""
        return [record for line in self.logs if (record := _json_line(line)) is not None]


def lambda_environment(spec: FunctionSpec, runtime: Path) -> dict[str, str]:
    """The variables Lambda's python3.12 runtime sets, then the function's own."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": ":".join(str(path) for path in python_path(spec, runtime)),
        "LAMBDA_TASK_ROOT": str(spec.code),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "_HANDLER": spec.handler,
        **spec.environment,
    }


class LambdaRuntime:
    """One emulated execution environment hosting one function (``with`` stops it)."""

    def __init__(self, spec: FunctionSpec, arch: str | None = None, echo: bool = False) -> None:
        self.spec = spec
        self.arch = arch or emulator.host_arch()
        self.echo = echo  # also print what the runtime prints, prefixed with the function
        self.port = free_port()
        self._output: list[str] = []
        self._seen = threading.Condition()
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> LambdaRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> LambdaRuntime:
        """Start the emulator; the runtime itself initialises on the first invoke, as on Lambda."""
        python = package_build.find_python312()
        if python is None:
            raise RuntimeFailed("no CPython 3.12 to run python3.12 functions with")
        command = [
            *(str(emulator.rie_binary(self.arch)), "--log-level", "info"),
            *("--runtime-interface-emulator-address", f"127.0.0.1:{self.port}"),
            *("--runtime-api-address", f"127.0.0.1:{free_port()}"),
            # -S: no site-packages; PYTHONPATH is the code, its layers, then the runtime client.
            *(python, "-S", "-m", emulator.RUNTIME_CLIENT, self.spec.handler),
        ]
        self._process = subprocess.Popen(
            command,
            cwd=self.spec.code,
            env=lambda_environment(self.spec, emulator.runtime_dir()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self._process.stdout is not None
        threading.Thread(target=self._collect, args=(self._process.stdout,), daemon=True).start()
        self._wait_listening()
        return self

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            if self.echo:
                print(f"[{self.spec.name}] {line}", end="", flush=True)
            with self._seen:
                self._output.append(line.rstrip("\n"))
                self._seen.notify_all()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeFailed(f"{self.spec.name}: the emulator exited:\n{self.output()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeFailed(f"{self.spec.name}: the emulator did not listen:\n{self.output()}")

    def invoke(self, event: Any) -> Invocation:
        """Invoke the function once (RequestResponse) and wait for its END log line."""
        if self._process is None:
            self.start()
        mark = len(self._output)
        started = time.monotonic()
        raw = self._post(json.dumps(event).encode())
        seconds = time.monotonic() - started
        logs = self._request_logs(mark)
        request_id = _START.search("\n".join(logs))
        assert request_id is not None  # _request_logs waited for it
        return Invocation(_decode(raw), request_id.group(1), logs, seconds)

    def _post(self, body: bytes) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, self.spec.timeout_s + 10)
        try:
            connection.request("POST", INVOKE_PATH, body, {"content-type": "application/json"})
            return connection.getresponse().read()
        except OSError as exc:
            raise RuntimeFailed(f"{self.spec.name}: invoke failed: {exc}\n{self.output()}") from exc
        finally:
            connection.close()

    def _request_logs(self, mark: int) -> list[str]:
        """The lines from this request's START to its END (the emulator writes END last)."""
        deadline = time.monotonic() + LOG_WAIT
        with self._seen:
            while True:
                lines = self._output[mark:]
                found = _START.search("\n".join(lines))
                if found and any(line.startswith(f"END RequestId: {found[1]}") for line in lines):
                    return lines
                if not self._seen.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise RuntimeFailed(f"{self.spec.name}: no END log line:\n{self.output()}")

    @property
    def init_ms(self) -> float | None:
        """How long the runtime's init phase took (imports, module-level code), once run."""
        found = _INIT.search(self.output())
        return float(found[1]) if found else None

    def output(self) -> str:
        """Everything the emulator, the runtime client and the function printed so far."""
        with self._seen:
            return "\n".join(self._output)

    def stop(self) -> None:
        """Stop the emulator and the runtime it started."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


class Fleet:
    """One warm runtime per function, each started on its first invoke.

    ``specs`` maps serverless.yml's function names to their specs, or is a function that
    makes one when first needed (so settings made after the fleet still reach it).
    A fleet is an invoker: ``fleet(name, event)`` is ``fleet.invoke(name, event)``.
    """

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec] | Callable[[str], FunctionSpec],
        arch: str | None = None,
        echo: bool = False,
    ) -> None:
        self._spec_for = specs.__getitem__ if isinstance(specs, Mapping) else specs
        self.arch = arch
        self.echo = echo
        self.runtimes: dict[str, LambdaRuntime] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def runtime(self, function: str) -> LambdaRuntime:
        """The warm runtime of ``function`` (serverless.yml's name), started if need be."""
        with self._lock:
            if function not in self.runtimes:
                spec = self._spec_for(function)
                self.runtimes[function] = LambdaRuntime(spec, self.arch, self.echo).start()
            return self.runtimes[function]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """The payload ``function`` answers ``event`` with (the gateway's seam)."""
        return self.runtime(function).invoke(event).payload

    __call__ = invoke

    def init_report(self) -> list[str]:
        """A line per started function: its init duration (printed, never asserted)."""
        return [
            f"{name}: init {runtime.init_ms:.0f} ms"
            if runtime.init_ms is not None
            else f"{name}: not initialised"
            for name, runtime in self.runtimes.items()
        ]

    def stop(self) -> None:
        """Stop every runtime."""
        with self._lock:
            for runtime in self.runtimes.values():
                runtime.stop()
            self.runtimes.clear()

    close = stop


def python_path(spec: FunctionSpec, runtime: Path) -> list[Path]:
    """Lambda's order: the function's code (/var/task), its layers' /opt/python, the runtime."""
    layers = [] if spec.opt is None else [spec.opt / "python"]
    return [spec.code, *layers, runtime]


def unpack(zip_path: Path, into: Path) -> Path:
    """Unzip a function's package into ``into`` (emptied first), as Lambda fills /var/task."""
    return unpack_layers([zip_path], into)


def unpack_layers(zips: Sequence[Path], into: Path) -> Path:
    """Unzip ``zips`` in order into ``into`` (emptied first), as Lambda fills /opt with a
    function's layers (a later layer's file replaces an earlier one's)."""
    if into.exists():
        for path in sorted(into.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    into.mkdir(parents=True, exist_ok=True)
    for zip_path in zips:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(into)
    return into


def layer_keys(template: Mapping[str, Any], function: Mapping[str, Any]) -> list[str]:
    """The S3 keys of a function's layers, in order, from the template that holds both
    (``function``: its AWS::Lambda::Function properties)."""
    resources = template["Resources"]
    refs = [layer["Ref"] for layer in function.get("Layers") or []]
    return [str(resources[ref]["Properties"]["Content"]["S3Key"]) for ref in refs]


def snapshot(tree: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``tree`` with its size and mtime: compare two to see writes."""
    found = {}
    for path in tree.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[path.relative_to(tree).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def _json_line(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
