"""Browser tests: Debian's Chromium driven by Playwright (never `playwright install`: Playwright's download
cannot be reached from these machines).

When the binary is missing and the run may install packages (root, apt-get present), Debian's `chromium`
is installed once per run before the first browser test, under a file lock so xdist workers do not run
apt twice; where it cannot be installed every browser test fails saying what to install.

`browser` is one headless Chromium per run; `new_context()` opens an isolated profile (its own
localStorage, so one context is one signed-in user) and fails the test if a page throws an uncaught
error. Screenshots go to `test-artifacts/screenshots/` (git-ignored).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Chromium cannot capture a page taller than its largest texture (16,384 px): a list the run's other tests
# made long (the workshops page after hundreds of sessions, paged in) is pictured from the top.
SCREENSHOT_MAX_HEIGHT = 8_000
CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

PACKAGES = ["chromium", "fonts-noto-color-emoji"]  # the emoji font: reactions render, as users see them
APT_TIMEOUT_S = 900
INSTALL_LOCK = Path(tempfile.gettempdir()) / "hub-tests-chromium.lock"

NewContext = Callable[..., Awaitable[BrowserContext]]

_missing: str | None = None  # why Chromium is not there, once this run has looked


def _install_with_apt(say: Callable[[str], None]) -> str | None:
    """Installs PACKAGES with apt-get; None when it worked, else what went wrong."""
    say(f"installing Debian's chromium for the browser tests (apt-get install {' '.join(PACKAGES)})…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt on the machine (a second checkout's run, unattended upgrades) holds dpkg's lock for a
    # while: wait for it rather than fail the browser tests.
    wait = ["-o", f"DPkg::Lock::Timeout={APT_TIMEOUT_S // 2}"]
    for command in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", *PACKAGES]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(command)}` failed: {exc}"
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip()[-500:]
            return f"`{' '.join(command)}` exited {done.returncode}: {tail}"
    say("chromium installed")
    return None


def _ensure_chromium(say: Callable[[str], None]) -> str | None:
    """None when CHROMIUM runs here (installing it first where this run may); else the reason it does not."""
    if shutil.which(CHROMIUM):
        return None
    if os.geteuid() != 0:
        return "the tests run as a user that cannot install packages"
    if shutil.which("apt-get") is None:
        return "no apt-get here to install it with"
    # xdist workers of one run share its id: the first one installs, the others wait and reuse its outcome.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    outcome = INSTALL_LOCK.with_name(f"{INSTALL_LOCK.stem}-{run}") if run else None
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shutil.which(CHROMIUM):
            return None
        if outcome is not None and outcome.exists():
            return outcome.read_text()
        failure = _install_with_apt(say)
        if outcome is not None:
            outcome.write_text(failure or "")
    if failure is None and not shutil.which(CHROMIUM):
        failure = "apt-get installed chromium, but not at this path"
    return failure


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before the first test (outside any test's timeout: apt may take minutes), when a test needs Chromium."""
    global _missing
    if not any("browser" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    reason = _ensure_chromium(say)
    if reason is not None:
        _missing = (f"{CHROMIUM} not found ({reason}): install Debian's chromium "
                    f"(as root: apt-get install {' '.join(PACKAGES)}), or set HUB_CHROMIUM to a Chromium binary")
        say(f"browser tests will fail: {_missing}")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if _missing is not None or not shutil.which(CHROMIUM):
        pytest.fail(_missing or f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
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
    """Saves a full-page screenshot as a test artifact, its top `SCREENSHOT_MAX_HEIGHT` pixels at most, and
    returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top of the picture
    width, height = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    await page.screenshot(path=str(path), full_page=True,
                          clip={"x": 0, "y": 0, "width": width, "height": min(height, SCREENSHOT_MAX_HEIGHT)})
    return path
