"""A real server on loopback and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from playwright.sync_api import Page, sync_playwright

from geo_safety.api.app import create_app
from geo_safety.settings import Settings
from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Watch:
    """What the page did that it should not: console errors, page errors, requests off this machine."""

    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)


@contextmanager
def browser_page(width: int = 420, height: int = 800) -> Iterator[tuple[Page, Watch]]:
    watch = Watch()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watch.console_errors.append(str(e)))

        def guard(route) -> None:
            url = route.request.url
            if url.startswith(("http://127.0.0.1", "file://", "data:", "about:")):
                route.continue_()
            else:  # the maps must not need anything from outside this machine
                watch.external_requests.append(url)
                route.abort()

        page.route("**/*", guard)
        try:
            yield page, watch
        finally:
            browser.close()


def log_in(page: Page, base: str, path: str, name: str, password: str) -> None:
    page.goto(base + path)
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def wait_until(page: Page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JavaScript expression until it is truthy. (``wait_for_function`` compiles its predicate with
    ``eval``, which the app's Content-Security-Policy rightly forbids; ``evaluate`` is not affected.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(100)


@contextmanager
def phone_page(position: tuple[float, float] | None = None) -> Iterator[tuple[Page, Watch]]:
    """An inspector's phone: 390×844, touch, Chinese, geolocation granted at ``position`` (lon, lat).

    No request routing here: Playwright's routing would bypass the app's service worker, which the offline
    tests need. Requests leaving this machine are recorded instead (the sandbox refuses them anyway).
    """
    watch = Watch()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        options: dict = {
            "viewport": {"width": 390, "height": 844},
            "is_mobile": True,
            "has_touch": True,
            "device_scale_factor": 2,
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
        }
        if position is not None:
            options |= {
                "geolocation": {"longitude": position[0], "latitude": position[1]},
                "permissions": ["geolocation"],
            }
        context = browser.new_context(**options)
        page = context.new_page()
        page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watch.console_errors.append(str(e)))
        context.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
                else watch.external_requests.append(r.url)
            ),
        )
        try:
            yield page, watch
        finally:
            browser.close()
