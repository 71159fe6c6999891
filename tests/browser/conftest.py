"""Fixtures for the browser suite: one Chromium and one origin proxy per session, a tab per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Browser, Page, install_chromium
from tests.support.origins import Origins


@pytest.fixture(scope="session")
def origins() -> Iterator[Origins]:
    """Pages at any origin (http://localhost:3000 ...), and no network beyond them."""
    proxy = Origins()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def browser(origins: Origins, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium from Debian's package, installed here first when root."""
    if install_chromium() is None:
        pytest.skip(
            "Debian's chromium is not installed and this user cannot install it (not root):"
            " sudo apt-get install -y chromium"
        )
    started = Browser(tmp_path_factory.mktemp("chromium-profile"), origins.port)
    yield started
    started.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab."""
    tab = browser.new_page()
    yield tab
    tab.close()
