/** Workshops: upcoming and live sessions, registration (seat or waitlist), and hosts' scheduling form. */

import { newIdempotencyKey } from "../api.js";
import { busy, field, formatDuration, formatTime, h, itemsOf, nameOf, replace, showError } from "../dom.js";

const LIVE_LOOKBACK_MS = 12 * 60 * 60 * 1000;
const PAGE_SIZE = 50;

/**
 * The caller's own registration status per session. The API reports it on `POST …/registration`
 * (and `session.promoted` on `user:<id>`); a session JSON carrying `my_status` wins when present.
 */
export const registrations = {
  key: (userId) => `hub.registrations.${userId}`,
  read(userId) {
    try {
      return JSON.parse(localStorage.getItem(this.key(userId))) || {};
    } catch {
      return {};
    }
  },
  get(userId, session) {
    return session.my_status ?? this.read(userId)[session.id] ?? null;
  },
  set(userId, sessionId, participant) {
    const all = this.read(userId);
    if (participant) all[sessionId] = participant.attendance_status;
    else delete all[sessionId];
    localStorage.setItem(this.key(userId), JSON.stringify(all));
  },
};

export async function render(root, ctx) {
  const me = ctx.user;
  const isHost = (me.roles || []).some((r) => r === "host" || r === "admin");
  const list = h("ol", { class: "sessions", "aria-label": "Workshops" });
  const error = h("p", { class: "error", role: "alert", hidden: true });

  const row = (session) => {
    const status = registrations.get(me.id, session);
    const hosting = session.host_id === me.id;
    const seats = session.max_participants ? `${session.current_participants}/${session.max_participants} seats` : `${session.current_participants} registered`;
    const action = h("div", { class: "row" });
    const statusEl = h("span", { class: `badge status-${status || "none"}` }, statusLabel(status, hosting));
    const register = h("button", { type: "button", class: "primary" }, "Register");
    const cancel = h("button", { type: "button" }, status === "waitlisted" ? "Leave waitlist" : "Cancel registration");
    register.addEventListener("click", () =>
      busy(register, async () => {
        const participant = await ctx.api.post(`/api/sessions/${session.id}/registration`, undefined, { idempotencyKey: newIdempotencyKey() });
        registrations.set(me.id, session.id, participant);
        await refresh(session.id);
      }).catch((err) => showError(error, err)),
    );
    cancel.addEventListener("click", () =>
      busy(cancel, async () => {
        await ctx.api.del(`/api/sessions/${session.id}/registration`);
        registrations.set(me.id, session.id, null);
        await refresh(session.id);
      }).catch((err) => showError(error, err)),
    );
    const open = ["scheduled", "live"].includes(session.status);
    if (hosting || status === "registered" || status === "attended") {
      action.appendChild(h("a", { class: "button primary", href: `#/sessions/${session.id}` }, session.status === "live" ? "Join the room" : "Open the room"));
    }
    if (!hosting && open && !status) action.appendChild(register);
    if (!hosting && open && (status === "registered" || status === "waitlisted")) action.appendChild(cancel);
    return h(
      "li",
      { class: "card session-card", dataset: { sessionId: session.id } },
      h(
        "div",
        { class: "post-meta" },
        h("span", { class: `badge live-${session.status}` }, session.status),
        h("span", { class: "badge" }, session.session_type),
        statusEl,
      ),
      h("h2", {}, session.title),
      session.description ? h("p", {}, session.description) : null,
      h("p", { class: "muted" }, `${formatTime(session.scheduled_at)} · ${formatDuration(session.duration)} · hosted by ${nameOf(session.host, session.host_id)} · ${seats}`, session.waitlist_count ? ` · ${session.waitlist_count} waiting` : ""),
      action,
    );
  };

  // Upcoming and live ones, soonest first (a session still live started at most a few hours ago), a page at
  // a time: a busy week holds more than one page, and a session past the first must still be reachable.
  let from = null;
  let cursor = null;
  let generation = 0; // a fresh load starts a new list: a page still on its way for the old one is dropped
  const more = h("button", { type: "button", hidden: true }, "Load more");
  more.addEventListener("click", () => busy(more, () => load(false), error));
  const load = async (fresh = true) => {
    if (!fresh && !cursor) return; // a fresh load is under way: its first page comes first
    if (fresh) {
      generation += 1;
      from = new Date(Date.now() - LIVE_LOOKBACK_MS).toISOString();
      cursor = null;
    }
    const asked = generation;
    const page = await ctx.api.get("/api/sessions", { limit: PAGE_SIZE, from, cursor });
    if (asked !== generation) return;
    const rows = itemsOf(page).map(row);
    if (fresh) replace(list, rows.length ? rows : h("li", { class: "card muted" }, "No workshops scheduled."));
    else list.append(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };

  // One session's card again, in place: a registration, a cancellation or a promotion changes that session
  // alone, and reloading the list would drop the pages loaded past the first.
  const refresh = async (sessionId) => {
    const card = () => list.querySelector(`[data-session-id="${sessionId}"]`);
    if (!card()) return; // not on a page loaded here
    const session = await ctx.api.get(`/api/sessions/${sessionId}`);
    card()?.replaceWith(row(session));
  };

  const onPromoted = (e) => {
    const { session, participant } = e.detail || {};
    if (session && participant) registrations.set(me.id, session.id, participant);
    if (session) refresh(session.id).catch((err) => showError(error, err));
  };
  ctx.userEvents.addEventListener("session.promoted", onPromoted);

  root.appendChild(
    h("section", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Live workshops")), isHost ? scheduler(ctx, load) : null, error, list, more),
  );
  await load();
  return () => ctx.userEvents.removeEventListener("session.promoted", onPromoted);
}

function statusLabel(status, hosting) {
  if (hosting) return "You host";
  return { registered: "Registered", attended: "Attended", waitlisted: "Waitlisted", missed: "Missed" }[status] || "Not registered";
}

function scheduler(ctx, onCreated) {
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200 });
  const when = h("input", { type: "datetime-local", name: "scheduled_at", required: true });
  const minutes = h("input", { type: "number", name: "duration", min: 5, max: 600, value: 60, required: true });
  const seats = h("input", { type: "number", name: "max_participants", min: 1, max: 10000, value: 50, required: true });
  const type = h("select", { name: "session_type" }, ["workshop", "q&a", "presentation"].map((t) => h("option", { value: t }, t)));
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Schedule");
  const soon = new Date(Date.now() + 3600_000);
  soon.setMinutes(soon.getMinutes() - soon.getTimezoneOffset());
  when.value = soon.toISOString().slice(0, 16);
  const form = h(
    "form",
    { class: "card composer", "aria-label": "Schedule a workshop" },
    h("h2", {}, "Schedule a workshop"),
    field("Title", title),
    h("div", { class: "row" }, field("Starts", when), field("Minutes", minutes), field("Seats", seats), field("Type", type)),
    error,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        await ctx.api.post(
          "/api/sessions",
          {
            title: title.value.trim(),
            session_type: type.value,
            scheduled_at: new Date(when.value).toISOString(),
            duration: `PT${Number(minutes.value)}M`,
            max_participants: Number(seats.value),
          },
          { idempotencyKey: newIdempotencyKey() },
        );
        form.reset();
        await onCreated();
      },
      error,
    );
  });
  return form;
}
