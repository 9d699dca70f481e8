"""Browser tests: the Streamlit app served for real, driven by Playwright in the Debian
Chromium (headless). Skipped, with the reason, when Chromium or Playwright is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the app in headless Chromium (needs /usr/bin/chromium)"
    )


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium absent ({CHROMIUM}) : apt-get install -y chromium"
        if os.environ.get("OBSERVATOIRE_REQUIRE_BROWSER"):
            pytest.fail(f"OBSERVATOIRE_REQUIRE_BROWSER : {message}")
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield _Patient(browser)
        browser.close()


# How long a browser test waits for the app at most: the suite runs on loaded machines, and
# a wait is not a speed check (the page benchmark measures speed).
WAIT_MS = 120_000


class _Patient:
    """The browser, whose pages and contexts wait up to `WAIT_MS` for what they look for."""

    def __init__(self, browser) -> None:  # noqa: ANN001 - playwright's Browser
        self._browser = browser

    def new_page(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        page = self._browser.new_page(*args, **kwargs)
        page.set_default_timeout(WAIT_MS)
        return page

    def new_context(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        context = self._browser.new_context(*args, **kwargs)
        context.set_default_timeout(WAIT_MS)
        return context

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._browser, name)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
