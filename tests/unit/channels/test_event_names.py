"""The registry of event names (`channels.event_names`) holds every name the hub appends: each
`append_event(conn, channel, <event>, data)` call in `hub/` is read from the source, its event name resolved
(a literal; an f-string's fixed prefix; a parameter, through the literals its callers in the module pass), and
looked up. Every server frame type is listed for the AsyncAPI document."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec

from channels import frames
from channels.event_names import DURABLE, SERVER_EVENT_PATTERN, TRANSIENT, is_reserved
from channels.names import ChannelKind

HUB = Path(__file__).resolve().parents[3] / "hub"
# The server-publish route appends whatever name a backend sends (`SERVER_EVENT_PATTERN`, not reserved ones).
FREE_NAMES = Path("hub/api/server_events.py")
EVENT_ARG = 2  # append_event(conn, channel, event, data)


def _is_append(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name == "append_event"


def _literals_for(tree: ast.Module, function: str, parameter: str) -> Iterator[str | None]:
    """What the calls to `function` in the module pass as its `parameter` (None: not a literal)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name != function:
            continue
        position = [a.arg for a in node.args.args].index(parameter)
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function:
                passed = [k.value for k in call.keywords if k.arg == parameter] or call.args[position:position + 1]
                value = passed[0] if passed else None
                yield value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


def _enclosing_functions(tree: ast.Module) -> dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef]:
    owner: dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    # ast.walk visits outer functions first, so an inner function overwrites them for its own body.
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                if child is not node:
                    owner[child] = node
    return owner


def appended_names() -> list[tuple[str, str | None, bool]]:
    """(where, name or prefix, is a prefix) for every append_event call in hub/."""
    found: list[tuple[str, str | None, bool]] = []
    for path in sorted(HUB.rglob("*.py")):
        if path.relative_to(HUB.parent) == FREE_NAMES:
            continue
        tree = ast.parse(path.read_text(), str(path))
        owners = _enclosing_functions(tree)
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not _is_append(call) or len(call.args) <= EVENT_ARG:
                continue
            where = f"{path.relative_to(HUB.parent)}:{call.lineno}"
            arg = call.args[EVENT_ARG]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((where, arg.value, False))
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                found.append((where, str(arg.values[0].value), True))
            elif isinstance(arg, ast.Name) and call in owners:
                function = owners[call]
                # The innermost function taking the name as a parameter (a closure's parameter is its factory's).
                while arg.id not in [a.arg for a in function.args.args]:
                    function = owners[function]
                found += [(where, name, False) for name in _literals_for(tree, function.name, arg.id)]
            else:
                found.append((where, None, False))
    return found


def test_every_event_name_the_hub_appends_is_in_the_registry() -> None:
    durable = {name for names in DURABLE.values() for name in names}
    found = appended_names()
    assert len(found) >= 30  # the reader still finds the call sites
    missing = [(where, name) for where, name, prefix in found
               if name is None or not (any(d.startswith(name) for d in durable) if prefix else name in durable)]
    assert missing == []
    # and nothing stale: each registered name is appended somewhere
    literal = {name for _, name, prefix in found if not prefix}
    prefixes = tuple(name for _, name, prefix in found if prefix and name)
    assert {name for name in durable if name not in literal and not name.startswith(prefixes)} == set()


def test_the_registry_lists_only_valid_names_and_durable_ones_only_on_logged_kinds() -> None:
    assert all(kind.is_durable for kind in DURABLE)
    assert all(not kind.is_durable or kind is ChannelKind.SESSION or kind is ChannelKind.THREAD for kind in TRANSIENT)
    for names in (*DURABLE.values(), *TRANSIENT.values()):
        assert all(re.match(SERVER_EVENT_PATTERN, name) for name in names)


def test_names_the_hub_sends_are_reserved_per_kind_only() -> None:
    assert is_reserved(ChannelKind.FEED, "post.deleted") and is_reserved(ChannelKind.THREAD, "typing")
    assert not is_reserved(ChannelKind.USER, "post.deleted") and not is_reserved(ChannelKind.FEED, "billing.reminder")


def test_every_server_frame_is_listed_for_the_asyncapi_document() -> None:
    client_frames = set(frames.ClientFrame.__args__)
    op_frames = {value for value in vars(frames).values()
                 if isinstance(value, type) and issubclass(value, msgspec.Struct)
                 and value.__struct_config__.tag_field == "op"}
    client_bases = {base for frame in client_frames for base in frame.__mro__}
    op_frames -= client_bases
    assert op_frames == set(frames.SERVER_FRAMES)
