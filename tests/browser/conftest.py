"""Browser tests: Debian's Chromium driven by Playwright (never `playwright install`; nothing is downloaded).

`browser` is one headless Chromium per run; `new_context()` opens an isolated profile (its own
localStorage, so one context is one signed-in user) and fails the test if a page throws an uncaught
error. Screenshots go to `test-artifacts/screenshots/` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def new_context(browser: Browser) -> AsyncIterator[NewContext]:
    contexts: list[BrowserContext] = []
    page_errors: list[str] = []

    async def open_context(**options: object) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        context = await browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        context.on("page", lambda page: page.on("pageerror", lambda exc: page_errors.append(str(exc))))
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        await context.close()
    assert page_errors == [], f"uncaught errors in the page: {page_errors}"


async def screenshot(page: Page, name: str) -> Path:
    """Saves a full-page screenshot as a test artifact and returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top of the picture
    await page.screenshot(path=str(path), full_page=True)
    return path
