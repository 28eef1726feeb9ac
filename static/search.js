/**
 * search.js — the header's search box and what the results page shares with it: `GET /api/search`
 * results grouped by type, each a link, its snippet's matched words in `<mark>`.
 *
 * The server's snippet is HTML (escaped text, matches wrapped in `<mark>…</mark>`), but nothing here parses
 * HTML: the snippet is split on those two literal markers and the five entities the server emits are decoded,
 * so it only ever becomes text nodes and `<mark>` elements.
 */

import { h, replace } from "./dom.js";

export const MIN_QUERY = 2;
const DEBOUNCE_MS = 250;

/** The result types in the order the groups are shown, with their headings. */
export const GROUPS = [
  ["post", "Posts"],
  ["comment", "Comments"],
  ["lesson", "Lessons"],
  ["session", "Workshops"],
];

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };

function decode(text) {
  return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
}

/** The snippet as nodes: text outside the markers, `<mark>` elements for the matched words. */
export function snippetNodes(snippet) {
  const nodes = [];
  for (const [i, part] of String(snippet || "").split("<mark>").entries()) {
    const [marked, rest] = i === 0 ? [null, part] : splitOnce(part, "</mark>");
    if (marked) nodes.push(h("mark", {}, decode(marked)));
    if (rest) nodes.push(decode(rest));
  }
  return nodes;
}

function splitOnce(text, marker) {
  const at = text.indexOf(marker);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + marker.length)];
}

/** Where a result leads: a comment opens its post's thread. */
export function hrefOf(item) {
  if (item.type === "comment") return `#/posts/${item.post_id}`;
  return `#/${{ post: "posts", lesson: "lessons", session: "sessions" }[item.type]}/${item.id}`;
}

/** One result: a link with the title (a comment has none) and the highlighted snippet. */
export function resultItem(item) {
  return h(
    "li",
    { class: "search-result", dataset: { type: item.type, id: item.id } },
    h(
      "a",
      { href: hrefOf(item) },
      h("span", { class: "search-title" }, item.title || (item.type === "comment" ? "Comment" : "Untitled")),
      h("span", { class: "search-snippet" }, snippetNodes(item.snippet)),
    ),
  );
}

/** What a failed search says: the query is too long (422), or the budget is spent (429). */
export function searchErrorText(err) {
  if (err.status === 429) {
    const after = Number(err.problem?.retry_after);
    return after > 0 ? `Too many searches: try again in ${Math.ceil(after)} s.` : "Too many searches: try again shortly.";
  }
  if (err.status === 422) {
    const why = Object.entries(err.errors || {}).map(([k, v]) => `${k} ${v}`);
    return `This search cannot be run: ${[err.message, ...why].join(" — ")}`;
  }
  return `Search failed: ${err.message}`;
}

export function searchUrl(q) {
  return `search?q=${encodeURIComponent(q)}`;
}

/**
 * The header's `<form role="search">`: as you type (debounced, at least MIN_QUERY characters) a panel of the
 * best matches grouped by type; only the latest request's answer is shown. Enter opens the results page;
 * ArrowDown/ArrowUp move through the results, Escape closes the panel (a second one clears the box).
 */
export class SearchBox {
  constructor(form, { api, navigate }) {
    this.form = form;
    this.input = form.querySelector("input");
    this.panel = form.querySelector(".search-panel");
    this.api = api;
    this.latest = 0;
    this.timer = null;
    this.input.addEventListener("input", () => this.schedule());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const q = this.input.value.trim();
      if (q.length < MIN_QUERY) return;
      this.close();
      navigate(searchUrl(q));
    });
    form.addEventListener("keydown", (e) => this.onKey(e));
    form.addEventListener("focusout", (e) => {
      if (!form.contains(e.relatedTarget)) this.close();
    });
    this.panel.addEventListener("click", (e) => {
      if (e.target.closest("a")) this.close();
    });
  }

  /** Shows `q` in the box (the results page's query) without searching. */
  show(q) {
    this.input.value = q;
  }

  close() {
    clearTimeout(this.timer);
    this.latest += 1; // an answer still on its way is stale now
    this.panel.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }

  schedule() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (q.length < MIN_QUERY) {
      this.close();
      return;
    }
    this.timer = setTimeout(() => this.run(q), DEBOUNCE_MS);
  }

  async run(q) {
    const ticket = ++this.latest;
    let content;
    try {
      content = this.results(q, await this.api.get("/api/search", { q }));
    } catch (err) {
      content = h("p", { class: "error", role: "alert" }, searchErrorText(err));
    }
    if (ticket !== this.latest) return;
    replace(this.panel, content);
    this.panel.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  results(q, data) {
    const items = data?.items || [];
    const groups = GROUPS.map(([type, heading]) => [type, heading, items.filter((item) => item.type === type)])
      .filter(([, , list]) => list.length)
      .map(([type, heading, list]) =>
        h("section", { class: "search-group", dataset: { type }, "aria-label": heading },
          h("h2", {}, heading), h("ul", {}, list.map(resultItem))),
      );
    return [
      groups.length ? groups : h("p", { class: "muted" }, `Nothing found for “${q}”.`),
      h("a", { class: "search-all", href: `#/${searchUrl(q)}` }, `All results for “${q}”`),
    ];
  }

  onKey(e) {
    if (e.key === "Escape" && !this.panel.hidden) {
      e.preventDefault(); // the first Escape closes the panel; the query stays until a second one clears it
      this.close();
      this.input.focus();
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const links = [...this.panel.querySelectorAll("a")];
    if (this.panel.hidden || !links.length) return;
    e.preventDefault();
    const at = links.indexOf(document.activeElement);
    const next = e.key === "ArrowDown" ? at + 1 : at - 1;
    if (next < 0) this.input.focus();
    else links[Math.min(next, links.length - 1)].focus();
  }
}
