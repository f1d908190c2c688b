"""Debian's chromium, driven by Playwright, for the web UI's end-to-end tests and its screenshots.

    with chromium() as browser:
        tab = Tab.open(browser, server.address)
        keys, root_token = tab.initialise(shares=5, threshold=3)

Playwright cannot download its own browsers here, so it drives /usr/bin/chromium (scripts/chromium-setup installs
it) through `executable_path`; a missing browser is an error, never a skip. Every `Tab` records each request its page
makes and every console error, so that a test can check that the UI asked no host but the server and logged no error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, expect, sync_playwright

CHROMIUM = os.environ.get("STRONGROOM_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


class ChromiumMissing(RuntimeError):
    pass


@contextmanager
def chromium() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        raise ChromiumMissing(f"no chromium at {CHROMIUM}: run scripts/chromium-setup (the UI tests need it)")
    # chromium refuses to start as root with its sandbox on
    arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=arguments)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One browser context (an operator's own machine, as far as the server can tell) with one page."""

    context: BrowserContext
    page: Page
    address: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    #: chromium's "Failed to load resource" lines for API answers of 4xx/5xx (a refused share, a sealed server):
    #: the browser reporting an answer the page expected and showed, not an error of the page
    refused_api_calls: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, address: str, viewport: dict[str, int] | None = None) -> Tab:
        context = browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        page = context.new_page()
        tab = cls(context, page, address)
        context.on("request", tab._record_request)
        page.on("console", tab._record_console)
        page.on("pageerror", lambda error: tab.console_errors.append(f"page error: {error}"))
        page.goto(f"{address}/ui/")
        return tab

    def _record_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _record_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = urlsplit(message.location.get("url", ""))
        api = source.netloc == urlsplit(self.address).netloc and source.path.startswith(("/v1/", "/secrets/v1/"))
        if api and message.text.startswith("Failed to load resource: the server responded with a status of"):
            self.refused_api_calls.append(message.location["url"])
        else:
            self.console_errors.append(message.text)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the server (blob: downloads and data: URLs stay in the browser)."""
        server = urlsplit(self.address).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != server
        ]

    def close(self) -> None:
        self.context.close()

    # -- what an operator does ----------------------------------------------------------------------------

    def initialise(self, shares: int, threshold: int) -> tuple[list[str], str]:
        """Fill the init form and read the keys and the root token from the page that shows them once."""
        page = self.page
        page.get_by_label("Key shares").fill(str(shares))
        page.get_by_label("Key threshold").fill(str(threshold))
        page.get_by_role("button", name="Initialise").click()
        expect(page.get_by_role("heading", name="Strongroom is initialised")).to_be_visible()
        keys = page.locator("ol.keys code").all_inner_texts()
        root_token = page.locator(".key-row code").inner_text()
        return keys, root_token

    def enter_share(self, key: str) -> None:
        share = self.page.get_by_label("Unseal key")
        share.fill(key)
        share.press("Enter")

    def wait_for_polls(self, count: int) -> None:
        """Until the page has asked for the seal status `count` more times (it does every second)."""
        for _ in range(count):
            self.page.wait_for_event("request", lambda request: request.url.endswith("/v1/sys/seal-status"))

    def progress(self) -> str:
        return self.page.get_by_role("status", name="Unseal progress").inner_text()

    def sign_in(self, token: str) -> None:
        field = self.page.get_by_label("Token", exact=True)
        field.fill(token)
        field.press("Enter")
        expect(self.page.get_by_role("status", name="Seal state")).to_have_text("Unsealed")

    def go(self, hash_route: str) -> None:
        self.page.goto(f"{self.address}/ui/{hash_route}")

    def alert(self) -> str:
        alert = self.page.get_by_role("alert")
        expect(alert).to_be_visible()
        return alert.inner_text()

    def scrolls_sideways(self) -> bool:
        return bool(self.page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))
