"""Search input and output, pure: the prefix tsquery built from what was typed, and the safe snippet.

The query: words are runs of letters and digits (anything else separates them), lower-cased, each a
prefix (`word:*`, for as-you-type) once it has `MIN_PREFIX` characters and matched whole before (a one-letter
prefix matches nearly every row, and every match is ranked), all required (`&`). Built as text from those
characters only and passed to `to_tsquery` as a parameter, so no input can be tsquery syntax (or SQL).
`websearch_to_tsquery` has no prefix syntax, hence this.

The snippet: `ts_headline` wraps matches in two private-use characters (removed from the text before the
headline, so every one in the output is a real marker); everything is HTML-escaped and then the markers
become `<mark>` and `</mark>`, so a client may insert the snippet as HTML.
"""

from __future__ import annotations

import html
import re

MAX_QUERY_LENGTH = 100
MAX_QUERY_WORDS = 8
MARK_START, MARK_END = "\ue000", "\ue001"
MIN_PREFIX = 3

_WORD = re.compile(r"[^\W_]+")


def query_words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def prefix_tsquery(words: list[str]) -> str:
    """`to_tsquery` text requiring every word, as a prefix from `MIN_PREFIX` characters on; "" when there is
    none (nothing can match)."""
    return " & ".join(f"{word}:*" if len(word) >= MIN_PREFIX else word for word in words)


def safe_snippet(headline: str) -> str:
    escaped = html.escape(headline, quote=True)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
