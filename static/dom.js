/**
 * dom.js — building DOM safely. User data only ever becomes text (text nodes, `textContent`,
 * attribute values through `setAttribute`); nothing here parses HTML.
 */

/**
 * `h("button", {class: "x", onclick: fn, "aria-label": "Upvote", dataset: {id}}, "text", child)`.
 * Props starting with `on` become listeners; `class`, `text`, `dataset`, `hidden`, `disabled`, `value`
 * and `checked` are set as properties; everything else with `setAttribute`. Children may be nodes,
 * strings (as text), numbers, null/false (skipped) or arrays of those.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (["hidden", "disabled", "value", "checked", "required", "selected"].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const seconds = (date.getTime() - Date.now()) / 1000;
  if (Math.abs(seconds) < 60) return "just now";
  if (Math.abs(seconds) < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (Math.abs(seconds) < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return timeFormat.format(date);
}

/** An ISO 8601 duration (`PT1H30M`, `PT3600S`) as "1 h 30 min"; other text unchanged. */
export function formatDuration(iso) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso || "");
  if (!m) return iso || "";
  const minutes = Number(m[1] || 0) * 1440 + Number(m[2] || 0) * 60 + Number(m[3] || 0) + Math.round(Number(m[4] || 0) / 60);
  const hours = Math.floor(minutes / 60);
  return [hours ? `${hours} h` : "", minutes % 60 ? `${minutes % 60} min` : ""].filter(Boolean).join(" ") || "0 min";
}

/** A `<time>` element with the exact time as its title. */
export function timeEl(iso) {
  return h("time", { datetime: iso, title: iso ? new Date(iso).toLocaleString() : "" }, formatTime(iso));
}

/** The name to show for an object with `author`/`host`/`user` blocks or a `full_name`. */
export function nameOf(person, fallbackId) {
  const name = person?.full_name || person?.email;
  if (name) return name;
  const id = person?.id || fallbackId;
  return id ? `user ${String(id).slice(0, 8)}` : "someone";
}

/** Items of a list response, whether paginated (`{items}`) or a bare array. */
export function itemsOf(data) {
  if (Array.isArray(data)) return data;
  return data?.items || [];
}

/** A labelled form field. */
export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

/** Shows an error from `ApiError`/`HubError` (or any Error) in `el`, as text. */
export function showError(el, err) {
  const fieldErrors = Object.entries(err?.errors || {}).map(([k, v]) => `${k}: ${v}`);
  replace(el, [err?.message || String(err), ...fieldErrors].join(" — "));
  el.hidden = false;
}

/** Runs `action` with `button` disabled; errors go to `errorEl` (when given). */
export async function busy(button, action, errorEl) {
  button.disabled = true;
  if (errorEl) errorEl.hidden = true;
  try {
    return await action();
  } catch (err) {
    if (errorEl) showError(errorEl, err);
    else throw err;
  } finally {
    button.disabled = false;
  }
}

/**
 * Applies each `listeners[event](detail)` when `target` (the user channel's events, `ctx.userEvents`)
 * dispatches that event, then calls `after()`; returns the function that stops listening.
 */
export function listenEach(target, listeners, after) {
  const handlers = Object.entries(listeners).map(([event, apply]) => {
    const handler = (e) => {
      apply(e.detail || {});
      after();
    };
    target.addEventListener(event, handler);
    return [event, handler];
  });
  return () => handlers.forEach(([event, handler]) => target.removeEventListener(event, handler));
}
