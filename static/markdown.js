/**
 * markdown.js — a small, safe Markdown subset for lesson text, built as DOM nodes with `h()` (nothing is
 * ever parsed as HTML, so any tag in the text stays text).
 *
 * Blocks: `#`…`######` headings, paragraphs (lines joined), `-`/`*` and `1.` lists, ``` fenced code.
 * Inline: `code`, **bold**, *italic* / _italic_, [links](https://…) — only http(s) URLs become links
 * (anything else, `javascript:` included, stays plain text). Headings start at h3: the page owns h1/h2.
 */

import { h } from "./dom.js";

const INLINE = /`([^`\n]+)`|\*\*(.+?)\*\*|\*([^*\s][^*]*?)\*|_([^_\s][^_]*?)_|\[([^\]\n]+)\]\(([^()\s]+)\)/;

/** An absolute http(s) URL as a string, or null for anything else. */
export function safeUrl(text) {
  try {
    const url = new URL(String(text));
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Inline markup of one run of text, as an array of nodes and strings. */
export function inline(text) {
  const out = [];
  let rest = String(text);
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    if (m.index) out.push(rest.slice(0, m.index));
    const [whole, code, bold, star, under, label, href] = m;
    if (code !== undefined) out.push(h("code", {}, code));
    else if (bold !== undefined) out.push(h("strong", {}, inline(bold)));
    else if (star !== undefined || under !== undefined) out.push(h("em", {}, inline(star ?? under)));
    else {
      const url = safeUrl(href);
      out.push(url ? h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, inline(label)) : whole);
    }
    rest = rest.slice(m.index + whole.length);
  }
  if (rest) out.push(rest);
  return out;
}

/** The Markdown `text` as an array of block elements. */
export function renderMarkdown(text) {
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let paragraph = [];
  let list = null; // {el, ordered}
  const flush = () => {
    if (paragraph.length) blocks.push(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      flush();
      const code = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      blocks.push(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (!line.trim()) flush();
    else if (heading) {
      flush();
      blocks.push(h(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
    } else if (bullet || numbered) {
      if (paragraph.length) {
        blocks.push(h("p", {}, inline(paragraph.join(" "))));
        paragraph = [];
      }
      const ordered = Boolean(numbered);
      if (!list || list.ordered !== ordered) {
        list = { el: h(ordered ? "ol" : "ul", { class: "md-list" }), ordered };
        blocks.push(list.el);
      }
      list.el.appendChild(h("li", {}, inline((bullet || numbered)[1])));
    } else if (list && /^\s+\S/.test(line)) {
      list.el.lastChild.append(" ", ...inline(line.trim())); // strings become text nodes
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return blocks;
}
