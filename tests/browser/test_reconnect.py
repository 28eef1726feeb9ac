"""The hub process is killed and restarted under an open page: the page shows it is reconnecting, comes
back on its own, and shows the comments written meanwhile (through another instance's REST) once each,
in order."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from hub.settings import Settings
from tests.browser.conftest import ROOT, NewContext, screenshot
from tests.browser.pages import open_as, wait_live
from tests.browser.test_community_live import create_post, thread_ready, write_comment
from tests.conftest import TEST_SECRET
from tests.helpers.api import signup
from tests.helpers.instances import wait_ready
from tests.helpers.ports import free_port
from tests.helpers.services import DatabaseUnderTest

pytestmark = pytest.mark.browser


@dataclass
class HubProcess:
    """A real uvicorn process of the hub that can be killed and started again on the same port."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"hub-{self.port}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "hub.asgi:create", "--factory", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.process = self.spawn()
        await wait_ready(self.url, process=self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
async def hub_process(test_db: DatabaseUnderTest, base_settings: Settings,
                      tmp_path: Path) -> AsyncIterator[HubProcess]:
    env = {**os.environ, "DATABASE_URL": test_db.app_dsn, "JWT_SECRET": TEST_SECRET,
           "REDIS_URL": base_settings.redis_url or "", "HUB_NAMESPACE": base_settings.namespace or "",
           "HUB_DATA_DIR": str(tmp_path), "LOG_LEVEL": "warning", "DB_POOL_MAX": "4",
           # As every hub of the suite: its users comment right after signup (tests/conftest.py).
           "REQUIRE_EMAIL_VERIFICATION": "false"}
    hub = HubProcess(env, tmp_path)
    await hub.start()
    yield hub
    hub.kill()


async def test_comments_written_while_the_hub_was_down_appear_after_reconnect_once_each_in_order(
        new_context: NewContext, client: httpx.AsyncClient, hub_process: HubProcess) -> None:
    alice = await signup(client, full_name="Alice Outage")
    bob = await signup(client, full_name="Bob Outage")
    post = await create_post(client, alice, "Does the page survive a restart?")
    page = await open_as(await new_context(), hub_process.url, bob, f"posts/{post['id']}")
    await thread_ready(page, post["id"])
    await write_comment(page, "before the outage")
    bodies = page.locator("ol.thread .comment-body")
    await expect(bodies).to_have_text(["before the outage"])

    hub_process.kill()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    await screenshot(page, "post-reconnecting")
    written = [f"written during the outage #{n}" for n in range(1, 5)]
    for text in written:  # through the other hub instance (the `client` fixture's), same database
        response = await client.post(f"/api/posts/{post['id']}/comments", headers=alice.headers,
                                     json={"content": text})
        assert response.status_code == 201, response.text
    await expect(bodies).to_have_count(1)  # nothing can arrive while the page's hub is down

    await hub_process.start()
    await wait_live(page, within_ms=30_000)
    await expect(bodies).to_have_text(["before the outage", *written])
    assert await page.evaluate("window.hubClient.reconnects") >= 1

    # A live comment after the resume: a duplicate delivered late would show up before it.
    await write_comment(page, "after the outage")
    await expect(bodies).to_have_text(["before the outage", *written, "after the outage"], timeout=30_000)
