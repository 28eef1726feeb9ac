"""The header's search box and the results page, against the real hub's `GET /api/search`."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import open_as
from tests.helpers.api import signup

pytestmark = pytest.mark.browser


async def test_typing_in_the_header_shows_grouped_highlighted_results_and_enter_opens_the_results_page(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    author = await signup(client, full_name="Searchable Author")
    word = f"zebrafinch{secrets.token_hex(3)}"
    response = await client.post("/api/posts", headers=author.headers, json={
        "title": f"Notes on {word} setups", "content": f"Entries & exits <b>{word}</b>", "post_type": "discussion",
        "category": "general", "tags": []})
    assert response.status_code == 201, response.text
    post: dict[str, Any] = response.json()
    response = await client.post(f"/api/posts/{post['id']}/comments", headers=author.headers,
                                 json={"content": f"I traded the {word} pattern too"})
    assert response.status_code == 201, response.text

    page = await open_as(await new_context(viewport=PHONE), hub_url, author, "feed")
    box = page.get_by_role("search").get_by_label("Search posts, comments, lessons and workshops")
    await box.fill(word[:7])
    panel = page.locator("#search-panel")
    posts = panel.get_by_role("region", name="Posts")
    comments = panel.get_by_role("region", name="Comments")
    await expect(posts.get_by_role("link", name=f"Notes on {word} setups")).to_be_visible()
    await expect(posts.locator("mark").first).to_contain_text(word[:7], ignore_case=True)
    await expect(comments.get_by_role("link")).to_have_count(1)
    await expect(comments.locator(".search-snippet mark").first).to_contain_text(word[:7], ignore_case=True)
    await screenshot(page, "search-panel-phone")

    await box.press("Enter")
    await expect(page).to_have_url(f"{hub_url}/#/search?q={word[:7]}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Search: {word[:7]}")
    results = page.locator("#view")
    await expect(results.get_by_role("heading", name="Posts")).to_be_visible()
    await expect(results.get_by_role("heading", name="Comments")).to_be_visible()
    await expect(results.locator(".search-result mark").first).to_be_visible()
    await expect(box).to_have_value(word[:7])
    await results.get_by_role("link", name=f"Notes on {word} setups").click()
    await expect(page).to_have_url(f"{hub_url}/#/posts/{post['id']}")
    await expect(page.get_by_role("heading", name=f"Notes on {word} setups")).to_be_visible()


async def test_a_snippet_becomes_text_and_mark_elements_never_parsed_markup(
        new_context: NewContext, hub_url: str) -> None:
    page = await (await new_context()).new_page()
    await page.goto(f"{hub_url}/#/login")
    snippet = "a &lt;b&gt;x&lt;/b&gt; <mark>Tom &amp; Jerry</mark> &amp;lt; &quot;q&quot; &#39;s <mark>end</mark>"
    parts = await page.evaluate("""async (snippet) => {
        const { snippetNodes } = await import("/search.js");
        const box = document.createElement("p");
        box.append(...snippetNodes(snippet));
        return { text: box.textContent, marks: [...box.querySelectorAll("mark")].map((m) => m.textContent),
                 elements: [...box.querySelectorAll("*")].map((e) => e.tagName) };
    }""", snippet)
    assert parts == {"text": "a <b>x</b> Tom & Jerry &lt; \"q\" 's end", "marks": ["Tom & Jerry", "end"],
                     "elements": ["MARK", "MARK"]}
