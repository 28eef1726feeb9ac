"""`/schema/asyncapi.json`: a valid AsyncAPI 3.0.0 document (checked against the JSON Schema kept in
tests/data, nothing fetched) that lists every channel kind, op and event docs/protocol.md lists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json"
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def _validator() -> Any:
    return jsonschema_rs.Draft7Validator(json.loads(SCHEMA.read_text()))


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/asyncapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under `## heading` in protocol.md, header and rule left out."""
    section = PROTOCOL.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    return cells[2:]


def _without_parentheses(text: str) -> str:
    """A cell's names outside any (…): what arrives, not the notes on it (notification kinds, settings)."""
    while (shorter := re.sub(r"\([^()]*\)", "", text)) != text:
        text = shorter
    return text


def _kind(cell: str) -> str:
    return cell.strip("`").split(":", 1)[0]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([a-z][a-z0-9_.]*\*?)`", _without_parentheses(cell))


def _messages(document: dict[str, Any], kind: str) -> set[str]:
    return {message["name"] for message in document["channels"][kind]["messages"].values()}


async def test_the_document_validates_against_the_asyncapi_3_schema(document: dict[str, Any]) -> None:
    validator = _validator()
    assert [error.message for error in validator.iter_errors(document)] == []
    assert document["asyncapi"] == "3.0.0" and document["servers"]["hub"]["pathname"] == "/ws"
    # The validator does reject a broken document.
    assert not validator.is_valid({**document, "operations": {"x": {"action": "shout"}}})


async def test_every_channel_kind_and_event_protocol_md_lists_is_in_the_document(document: dict[str, Any]) -> None:
    rows = _table("Channels")
    assert len(rows) == 6
    for kind_cell, _who, what in rows:
        kind = _kind(kind_cell)
        assert kind in document["channels"], kind
        received = _messages(document, kind)
        names = _names(what)
        assert names, kind_cell
        for name in names:
            if name.endswith("*"):
                assert any(r.startswith(name[:-1]) for r in received), (kind, name)
            else:
                assert name in received, (kind, name)


async def test_every_client_publish_protocol_md_lists_is_in_the_document(document: dict[str, Any]) -> None:
    rows = _table("Publishing")
    assert rows
    for channel_cell, event_cell, *_ in rows:
        kind = _kind(channel_cell)
        published = {key.removeprefix("publish.") for key in document["channels"][kind]["messages"]
                     if key.startswith("publish.")}
        for name in _names(event_cell):
            assert name in published, (kind, name)


async def test_every_op_protocol_md_shows_is_a_frame_of_the_socket_channel(document: dict[str, Any]) -> None:
    ops = set(re.findall(r'"op":\s*"([a-z_]+)"', PROTOCOL))
    assert {"auth", "subscribe", "publish", "ping", "reply", "reset", "error", "pong"} <= ops
    assert ops <= _messages(document, "socket")


async def test_the_socket_channel_lists_every_encoding_protocol_md_lists_with_its_content_type(
    document: dict[str, Any],
) -> None:
    socket = document["channels"]["socket"]
    header = socket["bindings"]["ws"]["headers"]["properties"]["Sec-WebSocket-Protocol"]
    assert header["enum"] == ["hub.v1.json", "hub.v1.msgpack"] and header["default"] == "hub.v1.json"
    assert set(re.findall(r"`(hub\.v1\.[a-z]+)`", PROTOCOL)) == set(header["enum"])
    assert document["defaultContentType"] == "application/json"
    assert "- `hub.v1.json` (the default, also with no subprotocol): text frames, `application/json`" in (
        socket["description"])
    assert "- `hub.v1.msgpack`: binary frames, `application/msgpack`" in socket["description"]
