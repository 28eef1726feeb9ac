/**
 * The results page (`#/search?q=`): one group per type, each from its own `type=` search so that its "More"
 * pages through that type alone with the group's `next_cursor`.
 */

import { h, replace } from "../dom.js";
import { GROUPS, MIN_QUERY, resultItem, searchErrorText } from "../search.js";

export async function render(root, ctx, { q }) {
  ctx.search.show(q);
  const page = h("section", { class: "page search-page", "aria-labelledby": "search-title" },
    h("h1", { id: "search-title" }, q ? `Search: ${q}` : "Search"));
  root.append(page);
  if (q.length < MIN_QUERY) {
    page.append(h("p", { class: "muted" }, `Type at least ${MIN_QUERY} characters in the search box.`));
    return;
  }
  const groups = GROUPS.map(([type, heading]) => group(ctx, q, type, heading));
  const empty = h("p", { class: "muted", hidden: true }, `Nothing found for “${q}”.`);
  page.append(...groups.map((g) => g.el), empty);
  const found = await Promise.all(groups.map((g) => g.more()));
  empty.hidden = found.some(Boolean);
}

/** A type's heading, list and "More" button; `more()` loads its next page and says whether
 * the group shows anything (results or an error). */
function group(ctx, q, type, heading) {
  const id = `search-${type}`;
  const list = h("ul", { class: "search-results" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "button", hidden: true }, `More ${heading.toLowerCase()}`);
  const el = h("section", { class: "card search-group", dataset: { type }, "aria-labelledby": id, hidden: true },
    h("h2", { id }, heading), list, error, button);
  let cursor = null;
  const more = async () => {
    button.disabled = true;
    try {
      const data = await ctx.api.get("/api/search", { q, type, cursor });
      list.append(...(data?.items || []).map(resultItem));
      cursor = data?.next_cursor || null;
      error.hidden = true;
    } catch (err) {
      replace(error, searchErrorText(err));
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
    button.hidden = !cursor;
    el.hidden = !list.children.length && error.hidden;
    return !el.hidden;
  };
  button.addEventListener("click", more);
  return { el, more };
}
