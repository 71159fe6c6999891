"""The local gateway (what ``make run`` serves) on a free port, and ways to talk to it.

``running_gateway`` starts it as ``make run`` does (development auth, serverless.yml's
environment and CORS, each function in worker processes) with every invocation recorded;
``call`` is a plain HTTP client; ``RawConnection`` writes bytes as a misbehaving client would.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from infra.local.gateway import AUTH_ENV, GatewayServer, bind, configure
from infra.local.runtime.workers import Workers, serverless_workers
from tests.support.resets import new_container

# Unset for a gateway as `make run` starts it: its own auth, the default frontend origin.
GATEWAY_ENV = (*AUTH_ENV, "FRONTEND_ORIGIN")


@dataclass
class Recorder:
    """The gateway's default invoker (worker processes), remembering each invocation's
    function and event."""

    inner: Workers = field(default_factory=serverless_workers)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        self.events.append((name, event))
        return self.inner(name, event)

    @property
    def calls(self) -> list[str]:
        """The functions invoked, in order."""
        return [name for name, _ in self.events]


@dataclass
class RunningGateway:
    """A gateway being served: where, with which token, what it invoked and logged."""

    base: str
    user: str
    token: str
    invocations: Recorder
    log: list[str]

    @property
    def port(self) -> int:
        """The port it listens on (127.0.0.1)."""
        return int(self.base.rsplit(":", 1)[1])

    @property
    def tasks(self) -> str:
        """The URL of the user's task collection."""
        return f"{self.base}/api/{self.user}/tasks"

    def auth(self) -> dict[str, str]:
        """The Authorization header of the development token."""
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def running_gateway(
    setenv: Callable[[str, str], None], user: str, **options: Any
) -> Iterator[RunningGateway]:
    """Serve the gateway for ``user``'s token; ``options``: head_timeout, body_timeout,
    workers (the functions' processes: default, as ``make run`` runs them)."""
    sock = bind()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    log: list[str] = []
    recorder = Recorder(options.pop("workers", None) or serverless_workers())
    head_timeout = options.pop("head_timeout", 10.0)
    api = configure(base, setenv=setenv, invoker=recorder, user=user, log=log.append, **options)
    new_container()  # the functions' environment is in place: settings are read anew
    server = GatewayServer(api.gateway, sock, head_timeout=head_timeout)
    server.start()
    try:
        assert api.token is not None, "the gateway should play Better Auth here"
        yield RunningGateway(base, user, api.token, recorder, log)
    finally:
        server.stop()
        api.close()
        recorder.inner.close()


@dataclass(frozen=True)
class Answer:
    """An HTTP response: status, headers (lower-case names) and the JSON body, if any."""

    status: int
    headers: dict[str, str]
    body: Any


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request with urllib; ``body`` is sent as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (loopback)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback)
            return _answer(response.status, response.headers.items(), response.read())
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.headers.items(), error.read())


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    found = {str(name).lower(): str(value) for name, value in headers}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return Answer(status, found, body)


class RawConnection:
    """A TCP connection to the gateway that sends exactly the bytes a test gives it."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Write ``data`` as it is."""
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """Read one response (framed by Content-Length): status, headers, body."""
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {head!r}")
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
        body = rest
        while len(body) < int(headers.get("content-length", "0")):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        """Whether the server closes the connection within the time-out (what it still
        sends is read and dropped)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True
