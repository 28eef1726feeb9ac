"""The search query and snippet rules with literals: what may reach `to_tsquery`, and what a snippet may hold."""

from __future__ import annotations

from hub.rules.search import MARK_END, MARK_START, prefix_tsquery, query_words, safe_snippet


def test_only_letters_and_digits_reach_the_tsquery_each_word_a_required_prefix() -> None:
    assert query_words("Tradi") == ["tradi"]
    assert query_words("risk's & !(stop) | loss:* <-> 'x'") == ["risk", "s", "stop", "loss", "x"]
    assert query_words("naïve ÉTÉ 2024_q1") == ["naïve", "été", "2024", "q1"]
    assert query_words("!!! ??? \ue000") == []
    assert prefix_tsquery(["trading", "risk"]) == "trading:* & risk:*"
    assert prefix_tsquery([]) == ""
    # a word shorter than MIN_PREFIX is matched whole: one letter as a prefix matches nearly every row
    assert prefix_tsquery(["a", "fx", "eur"]) == "a & fx & eur:*"


def test_a_snippet_is_escaped_and_only_the_headlines_markers_become_marks() -> None:
    headline = f"<b>bold</b> & {MARK_START}trading{MARK_END} \"q\" 'a' <mark>"
    assert safe_snippet(headline) == (
        "&lt;b&gt;bold&lt;/b&gt; &amp; <mark>trading</mark> &quot;q&quot; &#x27;a&#x27; &lt;mark&gt;")
