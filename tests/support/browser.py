"""Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol.

Started as the developers' guide says (headless, no sandbox, no GPU, no background
networking, component updates, sync or first-run, a fresh profile), with every request
for a host other than 127.0.0.1 sent to a proxy the test runs (``proxy_port``): that is
how a page gets an origin such as ``http://localhost:3000`` without anything listening
there, and how nothing reaches the network. Chromium picks its own DevTools port and
writes it to the profile's ``DevToolsActivePort``; one WebSocket carries every command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["FLAGS", "Browser", "JavaScriptError", "Page", "chromium", "install_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Chromium's optimization guide fetches hints from Google on its own (seen in CI).
    "--disable-features=OptimizationHints,OptimizationHintsFetching,OptimizationGuideModelDownloading",
)
PACKAGE = "chromium"
TIMEOUT = 30.0


def chromium() -> str | None:
    """Debian's Chromium, when installed."""
    return shutil.which("chromium")


def install_chromium() -> str | None:
    """Install Debian's ``chromium`` when root and missing; its path, or None if not possible."""
    if chromium() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", PACKAGE], check=False, env=env)
    return chromium()


class JavaScriptError(AssertionError):
    """A script the page evaluated threw."""


@dataclass
class _Session:
    """One attached page target: its session id and the events it has sent."""

    id: str
    events: list[dict[str, Any]] = field(default_factory=list)


class Browser:
    """One Chromium process with a fresh profile; pages come from :meth:`new_page`."""

    def __init__(self, profile: Path, proxy_port: int) -> None:
        binary = chromium()
        assert binary is not None, "Debian's chromium is not installed"
        profile.mkdir(parents=True, exist_ok=True)
        self._log = (profile / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--proxy-server=http://127.0.0.1:{proxy_port}",
                # Loopback is never proxied by default; only the gateway's 127.0.0.1 is not.
                "--proxy-bypass-list=<-loopback>;127.0.0.1",
                "about:blank",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._closing = ExitStack()
        self._socket: ClientConnection = self._closing.enter_context(
            connect(_devtools_url(profile, self.process), max_size=None, proxy=None)
        )
        self._next_id = 0
        self._sessions: dict[str, _Session] = {}

    def new_page(self) -> Page:
        """A new tab, attached, with its network events recorded."""
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        attached = self.command("Target.attachToTarget", targetId=target, flatten=True)
        session = _Session(attached["sessionId"])
        self._sessions[session.id] = session
        page = Page(self, session, target)
        for domain in ("Page", "Runtime", "Network"):
            page.command(f"{domain}.enable")
        return page

    def command(self, method: str, session: str | None = None, **params: Any) -> Any:
        """Send one command and wait for its result (recording events meanwhile)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline - time.monotonic())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def pump(self, seconds: float) -> None:
        """Record the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._receive(left)
            except TimeoutError:
                return

    def _receive(self, timeout: float) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self._socket.recv(timeout=max(timeout, 0.001)))
        session = self._sessions.get(message.get("sessionId", ""))
        if "method" in message and session is not None:
            session.events.append(message)
        return message

    def close(self) -> None:
        """Close Chromium and its profile's log."""
        try:
            self.command("Browser.close")
        except Exception:  # already gone: nothing to close
            self.process.kill()
        finally:
            self._closing.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


class Page:
    """One tab: navigate, evaluate scripts (awaiting promises), read what it requested."""

    def __init__(self, browser: Browser, session: _Session, target: str) -> None:
        self._browser = browser
        self._session = session
        self._target = target

    def command(self, method: str, **params: Any) -> Any:
        """A DevTools command for this tab."""
        return self._browser.command(method, self._session.id, **params)

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self._session.events.clear()
        result = self.command("Page.navigate", url=url)
        assert "errorText" not in result, f"{url}: {result['errorText']}"
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` (a promise is awaited); JavaScriptError if it throws."""
        result = self.command(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise JavaScriptError(details.get("exception", {}).get("description") or details)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise AssertionError(f"still false after {timeout} s: {expression}")
            self._browser.pump(0.05)
        return value

    def requested(self) -> list[str]:
        """The URL of every request this tab made since it last navigated."""
        self._browser.pump(0.1)
        sent = (e for e in self._session.events if e["method"] == "Network.requestWillBeSent")
        return [str(event["params"]["request"]["url"]) for event in sent]

    def close(self) -> None:
        """Close the tab."""
        self._browser.command("Target.closeTarget", targetId=self._target)


def _devtools_url(profile: Path, process: subprocess.Popen[bytes]) -> str:
    """The browser's DevTools WebSocket, from the port file Chromium writes when ready."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + TIMEOUT
    while not port_file.exists() or len(port_file.read_text().split()) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            log = (profile / "chromium.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Chromium did not start (exit {process.poll()}): {log}")
        time.sleep(0.05)
    port, path = port_file.read_text().split()[:2]
    return f"ws://127.0.0.1:{port}{path}"
