"""The browser app's sources never turn strings into HTML: user text can only ever become text."""

from __future__ import annotations

import re

from tests.browser.conftest import STATIC_DIR

HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(")


def test_no_static_script_uses_an_html_parsing_sink() -> None:
    scripts = sorted(STATIC_DIR.rglob("*.js"))
    assert len(scripts) >= 5
    offenders = [f"{path.relative_to(STATIC_DIR)}:{n}" for path in scripts
                 for n, line in enumerate(path.read_text().splitlines(), start=1) if HTML_SINKS.search(line)]
    assert offenders == []


def test_the_app_shell_forbids_inline_scripts_through_its_content_security_policy() -> None:
    shell = (STATIC_DIR / "index.html").read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', shell)
    assert policy is not None
    assert "script-src 'self'" in policy.group(1) and "unsafe-inline" not in policy.group(1)
