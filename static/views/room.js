/**
 * The workshop room: everything arrives on `session:<id>` — status changes, chat, questions and answers,
 * announcements (durable, resumed after reconnects), presence with raised hands, reactions and question
 * vote counts (ephemeral). Host controls: start, end, announce, answer, lower hands.
 *
 * Moderation: the room's state (slow mode, chat lock, running mutes) is read from
 * `GET /api/sessions/{id}/moderation` on entry and after a reset, then kept current by the durable
 * `participant.muted/unmuted/kicked`, `room.slow_mode` and `room.chat_locked` events. The host (and admins)
 * get per-person mute/unmute/kick controls and the room's slow mode and chat lock; a participant sees their
 * own state, their composers disabled while it refuses them, and leaves the room when kicked. The server
 * decides: this only spares the user requests that would be refused.
 */

import { h, nameOf, replace, showError, timeEl } from "../dom.js";

const REACTIONS = ["👍", "👏", "🎉", "❤️", "😂", "😮", "🔥", "🚀"];
const names = new Map(); // user id → display name, shared across visits

export async function render(root, ctx, { id }) {
  const me = ctx.user;
  const channel = `session:${id}`;
  let session = await ctx.api.get(`/api/sessions/${id}`);
  const isHost = () => session.host_id === me.id || (me.roles || []).includes("admin");

  const messages = new Map(); // message id → message
  const myQuestionVotes = new Set();
  const hands = new Map(); // user id → raised (from presence metas and hand.* events)
  let presence = new Map();
  let participantsCount = null;
  let moderation = { slowModeSeconds: 0, chatLocked: false, muted: new Map() }; // muted: user id → until (ISO)
  const muteMinutes = new Map(); // user id → minutes typed in the host's mute field, kept across re-renders
  let muteTimer = null;
  let inRoom = false; // the subscription was confirmed: a later `forbidden` naming the channel is a revocation
  let removed = false;

  // ---- elements ----------------------------------------------------------------------------------
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const statusBadge = h("span", { id: "room-status", class: "badge", "aria-live": "polite" });
  const connBadge = h("span", { class: "conn room-conn", role: "status", "aria-label": "Connection" }, h("span", { class: "dot", "aria-hidden": "true" }), h("span", { class: "conn-text" }));
  const countEl = h("span", { class: "muted participants-count" });
  const announcements = h("ol", { class: "announcements", "aria-label": "Announcements", "aria-live": "polite" });
  const presenceList = h("ul", { class: "presence", "aria-label": "People in the room" });
  const chatList = h("ol", { class: "chat", "aria-label": "Chat messages", "aria-live": "polite" });
  const questionList = h("ol", { class: "questions", "aria-label": "Questions, most votes first" });
  const reactionFeed = h("div", { class: "reaction-feed", "aria-live": "polite", "aria-label": "Reactions" });
  const handButton = h("button", { type: "button", class: "hand-toggle", "aria-pressed": "false" }, "✋ Raise hand");
  const hostBar = h("div", { class: "host-controls", role: "group", "aria-label": "Host controls" });
  const moderationBar = h("div", { class: "host-controls moderation-controls", role: "group", "aria-label": "Room moderation" });
  const moderationState = h("p", { class: "moderation-state", role: "status", "aria-live": "polite" });

  const publish = (event, data = {}) =>
    ctx.hub.publish(channel, event, data).catch((err) => {
      showError(error, err);
      throw err;
    });

  // ---- names ---------------------------------------------------------------------------------------
  const nameSpan = (userId, known) => {
    if (known) names.set(userId, known);
    const span = h("span", { class: "name", dataset: { userId } }, names.get(userId) || `user ${String(userId).slice(0, 8)}`);
    if (!names.has(userId)) {
      ctx.api
        .get(`/api/profiles/${userId}`)
        .then((p) => {
          names.set(userId, nameOf(p, userId));
          for (const el of root.querySelectorAll(`.name[data-user-id="${CSS.escape(userId)}"]`)) el.textContent = names.get(userId);
        })
        .catch(() => {});
    }
    return span;
  };

  // ---- status and host controls ------------------------------------------------------------------
  const renderStatus = () => {
    statusBadge.textContent = session.status;
    statusBadge.className = `badge live-${session.status}`;
    const live = session.status === "live";
    syncComposers();
    handButton.disabled = !live;
    replace(hostBar);
    if (!isHost()) return;
    const action = (label, path, enabled) => {
      const button = h("button", { type: "button", class: "primary", disabled: !enabled }, label);
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          session = { ...session, ...(await ctx.api.post(`/api/sessions/${id}/${path}`)) };
          renderStatus();
        } catch (err) {
          showError(error, err);
          button.disabled = false;
        }
      });
      return button;
    };
    const text = h("input", { type: "text", name: "announcement", maxlength: 2000, required: true, placeholder: "Announce to everyone…", "aria-label": "Announcement" });
    const announce = h("form", { class: "row announce-form", "aria-label": "Announce" }, text, h("button", { type: "submit", disabled: !live }, "Announce"));
    announce.addEventListener("submit", (e) => {
      e.preventDefault();
      publish("announcement", { text: text.value }).then(() => announce.reset(), () => {});
    });
    const lowerAll = h("button", { type: "button", disabled: !live }, "Lower all hands");
    lowerAll.addEventListener("click", () => {
      for (const [userId, raised] of hands) if (raised) publish("hand.lower", { user_id: userId }).catch(() => {});
    });
    hostBar.append(action("Start", "start", session.status === "scheduled"), action("End", "end", live), lowerAll, announce);
  };

  // ---- moderation --------------------------------------------------------------------------------
  const mutedUntil = (userId) => {
    const until = moderation.muted.get(userId);
    return until && new Date(until) > new Date() ? until : null;
  };
  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  // Chat needs the room live and, for participants, no mute and no lock; questions only no mute.
  const syncComposers = () => {
    const live = session.status === "live";
    const muted = !isHost() && Boolean(mutedUntil(me.id));
    for (const form of root.querySelectorAll(".needs-live")) {
      const blocked = muted || (!isHost() && form.dataset.event === "chat.message" && moderation.chatLocked);
      for (const control of form.querySelectorAll("input, textarea, button, select")) control.disabled = !live || blocked;
    }
  };
  // Built once and updated in place, so an event arriving while the host types keeps their input and focus.
  const slowSeconds = h("input", { type: "number", name: "seconds", min: 0, max: 3600, step: 1, required: true, value: "0", "aria-label": "Slow mode seconds", class: "num-input" });
  const slowForm = h("form", { class: "row slow-mode-form", "aria-label": "Slow mode" }, h("span", { class: "muted" }, "Slow mode (0 = off)"), slowSeconds, h("button", { type: "submit" }, "Set slow mode"));
  slowForm.addEventListener("submit", (e) => {
    e.preventDefault();
    publish("room.slow_mode", { seconds: Number(slowSeconds.value) }).catch(() => {});
  });
  const lockButton = h("button", { type: "button", class: "chat-lock" });
  lockButton.addEventListener("click", () => publish("room.lock_chat", { locked: !moderation.chatLocked }).catch(() => {}));
  const renderModerationBar = () => {
    if (!isHost()) return;
    if (!moderationBar.firstChild) moderationBar.append(slowForm, lockButton);
    if (document.activeElement !== slowSeconds) slowSeconds.value = String(moderation.slowModeSeconds);
    lockButton.textContent = moderation.chatLocked ? "Unlock chat" : "Lock chat";
    lockButton.setAttribute("aria-pressed", String(moderation.chatLocked));
  };
  const renderModeration = () => {
    const mine = mutedUntil(me.id);
    const notes = [];
    if (mine) notes.push(`You are muted until ${clock(mine)}.`);
    if (moderation.chatLocked) notes.push(isHost() ? "Chat is locked for participants." : "Chat is locked by the host.");
    if (moderation.slowModeSeconds > 0) notes.push(`Slow mode: one message every ${moderation.slowModeSeconds} s${isHost() ? " for participants" : ""}.`);
    moderationState.textContent = notes.join(" ");
    moderationState.dataset.muted = mine ? "true" : "false";
    moderationState.hidden = notes.length === 0;
    clearTimeout(muteTimer);
    if (mine) muteTimer = setTimeout(renderModeration, Math.min(new Date(mine) - Date.now() + 250, 2 ** 31 - 1));
    syncComposers();
    renderModerationBar();
    renderPresence();
  };
  const loadModeration = async () => {
    const state = await ctx.api.get(`/api/sessions/${id}/moderation`);
    moderation = { slowModeSeconds: state.slow_mode_seconds, chatLocked: state.chat_locked, muted: new Map(state.muted.map((m) => [m.user_id, m.until])) };
    renderModeration();
  };
  let page = null;
  const leaveRoom = (message) => {
    if (removed) return;
    removed = true;
    clearTimeout(muteTimer);
    sub.unsubscribe();
    replace(page, h("p", {}, h("a", { href: "#/sessions" }, "← Workshops")), h("div", { class: "card room-left", role: "alert" }, h("h1", {}, session.title), h("p", {}, message)));
  };
  // Per person, for the host: mute for N minutes (or unmute) and kick.
  const moderationControls = (userId) => {
    if (mutedUntil(userId)) return [h("button", { type: "button", class: "link", onclick: () => publish("participant.unmute", { user_id: userId }).catch(() => {}) }, "Unmute")];
    const minutes = h("input", { type: "number", min: 1, max: 10080, step: 1, required: true, value: muteMinutes.get(userId) || "5", "aria-label": "Mute minutes", class: "mute-minutes num-input" });
    minutes.addEventListener("input", () => muteMinutes.set(userId, minutes.value));
    const mute = h("form", { class: "row mute-form", "aria-label": "Mute" }, minutes, h("button", { type: "submit", class: "link" }, "Mute"));
    mute.addEventListener("submit", (e) => {
      e.preventDefault();
      publish("participant.mute", { user_id: userId, minutes: Number(minutes.value) }).catch(() => {});
    });
    return [mute];
  };

  // ---- presence and hands ------------------------------------------------------------------------
  const renderPresence = () => {
    const people = [...presence.entries()].map(([userId, entry]) => ({
      userId,
      role: entry.metas.some((m) => m.role === "host") ? "host" : "participant",
      raised: hands.get(userId) ?? entry.metas.some((m) => m.hand_raised),
    }));
    people.sort((a, b) => (a.role === b.role ? 0 : a.role === "host" ? -1 : 1) || Number(b.raised) - Number(a.raised));
    replace(
      presenceList,
      people.map((p) => {
        const li = h(
          "li",
          { dataset: { userId: p.userId, role: p.role, hand: p.raised ? "raised" : "down" } },
          nameSpan(p.userId),
          p.userId === me.id ? h("span", { class: "muted" }, " (you)") : null,
          h("span", { class: `badge role-${p.role}` }, p.role),
          p.raised ? h("span", { class: "hand", role: "img", "aria-label": "hand raised" }, "✋") : null,
        );
        if (p.raised && isHost() && p.userId !== me.id) {
          li.appendChild(h("button", { type: "button", class: "link", "aria-label": "Lower hand", onclick: () => publish("hand.lower", { user_id: p.userId }).catch(() => {}) }, "Lower"));
        }
        const mutedTill = mutedUntil(p.userId);
        if (mutedTill) li.appendChild(h("span", { class: "badge muted-badge", title: `until ${new Date(mutedTill).toLocaleString()}` }, `muted until ${clock(mutedTill)}`));
        if (isHost() && p.userId !== me.id && p.role !== "host") {
          li.append(...moderationControls(p.userId), h("button", { type: "button", class: "link danger", onclick: () => publish("participant.kick", { user_id: p.userId }).catch(() => {}) }, "Kick"));
        }
        return li;
      }),
    );
    countEl.textContent = `${participantsCount ?? presence.size} here`;
    const mine = hands.get(me.id) ?? false;
    handButton.setAttribute("aria-pressed", String(mine));
    handButton.textContent = mine ? "✋ Lower hand" : "✋ Raise hand";
  };
  const onPresence = (state, diff) => {
    presence = state;
    const touched = diff.full ? [...state.keys(), ...hands.keys()] : [...Object.keys(diff.joins || {}), ...Object.keys(diff.leaves || {})];
    for (const userId of touched) {
      const entry = state.get(userId);
      if (entry) hands.set(userId, entry.metas.some((m) => m.hand_raised));
      else hands.delete(userId);
    }
    renderPresence();
  };
  handButton.addEventListener("click", () => publish(hands.get(me.id) ? "hand.lower" : "hand.raise").catch(() => {}));

  // ---- messages ----------------------------------------------------------------------------------
  const textOf = (m) => (m.is_deleted ? "[deleted]" : m.content ?? m.text ?? "");
  const renderChat = () =>
    replace(
      chatList,
      [...messages.values()]
        .filter((m) => m.kind === "chat")
        .map((m) => h("li", { dataset: { messageId: m.id } }, h("strong", {}, nameSpan(m.author_id, m.author?.full_name)), " ", h("span", { class: "text" }, textOf(m)), " ", timeEl(m.created_at))),
    );
  const renderAnnouncements = () =>
    replace(
      announcements,
      [...messages.values()].filter((m) => m.kind === "announcement").reverse().slice(0, 3).map((m) => h("li", { class: "announcement", dataset: { messageId: m.id } }, "📣 ", h("span", { class: "text" }, textOf(m)))),
    );
  const renderQuestions = () => {
    const questions = [...messages.values()].filter((m) => m.kind === "question");
    questions.sort((a, b) => (b.upvotes_count ?? 0) - (a.upvotes_count ?? 0) || String(a.created_at).localeCompare(String(b.created_at)));
    replace(
      questionList,
      questions.map((q) => {
        const answers = [...messages.values()].filter((m) => m.kind === "answer" && m.parent_id === q.id);
        const vote = h(
          "button",
          { type: "button", class: "q-upvote", "aria-label": `Upvote question, ${q.upvotes_count ?? 0} votes`, disabled: myQuestionVotes.has(q.id) || q.author_id === me.id },
          "▲ ",
          h("span", { class: "q-votes" }, String(q.upvotes_count ?? 0)),
        );
        vote.addEventListener("click", () => {
          myQuestionVotes.add(q.id);
          vote.disabled = true;
          publish("question.vote", { question_id: q.id }).catch(() => myQuestionVotes.delete(q.id));
        });
        const li = h(
          "li",
          { class: q.is_answered ? "answered" : "", dataset: { messageId: q.id } },
          vote,
          h("div", { class: "q-text" }, h("span", { class: "text" }, textOf(q)), h("div", { class: "muted small" }, nameSpan(q.author_id, q.author?.full_name)), answers.map((a) => h("div", { class: "answer" }, "↳ ", textOf(a)))),
          q.is_answered ? h("span", { class: "badge answered-badge" }, "Answered") : null,
        );
        if (isHost() && !q.is_answered) {
          li.appendChild(h("button", { type: "button", class: "link", onclick: () => publish("question.answer", { question_id: q.id }).catch(() => {}) }, "Mark answered"));
        }
        return li;
      }),
    );
  };
  const renderMessages = () => {
    renderChat();
    renderQuestions();
    renderAnnouncements();
  };
  const upsertMessage = (m) => {
    if (!m || !m.id) return;
    messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
    if (m.kind === "answer" && m.parent_id && messages.has(m.parent_id)) messages.get(m.parent_id).is_answered = true;
    renderMessages();
  };
  const loadMessages = async () => {
    messages.clear();
    for (const m of await ctx.api.all(`/api/sessions/${id}/messages`)) messages.set(m.id, m);
    renderMessages();
  };

  const composer = (label, event, placeholder) => {
    const text = h("input", { type: "text", name: "text", maxlength: 2000, required: true, placeholder, "aria-label": label });
    const form = h("form", { class: "row needs-live", "aria-label": label, dataset: { event } }, text, h("button", { type: "submit", class: "primary" }, "Send"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = text.value;
      if (!value.trim()) return;
      publish(event, { text: value }).then((result) => {
        form.reset();
        if (result && result.id) upsertMessage(result);
      }, () => {});
    });
    return form;
  };

  // ---- live --------------------------------------------------------------------------------------
  const sub = ctx.hub.subscribe(channel, {
    onReset: async () => {
      session = await ctx.api.get(`/api/sessions/${id}`);
      renderStatus();
      await loadMessages();
      await loadModeration();
    },
    onPresence,
    onError: (err) => {
      showError(error, err.code === "forbidden" ? new Error("Register for this workshop to enter its room.") : err);
    },
  });
  sub.on("subscribed", () => {
    inRoom = true;
  });
  // A revocation (kicked, registration cancelled) is an `error` frame naming the channel, after its event.
  const offError = ctx.hub.on("error", (err) => {
    if (inRoom && err.code === "forbidden" && err.details?.channel === channel) leaveRoom(`You left the room: ${err.message}.`);
  });
  sub.on("participant.muted", (data) => {
    moderation.muted.set(data.user_id, data.until);
    renderModeration();
  });
  sub.on("participant.unmuted", (data) => {
    moderation.muted.delete(data.user_id);
    renderModeration();
  });
  sub.on("participant.kicked", (data) => {
    if (data.user_id === me.id) leaveRoom("You were removed from this room by the host.");
    else {
      moderation.muted.delete(data.user_id);
      renderModeration();
    }
  });
  sub.on("room.slow_mode", (data) => {
    moderation.slowModeSeconds = data.seconds;
    renderModeration();
  });
  sub.on("room.chat_locked", (data) => {
    moderation.chatLocked = data.locked;
    renderModeration();
  });
  sub.on("session.updated", (data) => {
    session = { ...session, ...data };
    renderStatus();
  });
  for (const event of ["chat.message", "question.asked", "announcement"]) sub.on(event, upsertMessage);
  sub.on("question.answered", (data) => {
    if (data.kind === "answer") upsertMessage(data);
    else upsertMessage({ ...data, is_answered: true });
  });
  sub.on("chat.deleted", (data) => upsertMessage({ ...data, is_deleted: true }));
  sub.on("question.votes", (data) => {
    for (const item of Array.isArray(data) ? data : data.items || [data]) {
      const qid = item.question_id ?? item.id;
      if (messages.has(qid)) messages.get(qid).upvotes_count = item.upvotes_count ?? item.upvotes ?? item.count;
    }
    renderQuestions();
  });
  sub.on("hand.raised", (data) => {
    hands.set(data.user_id, true);
    renderPresence();
  });
  sub.on("hand.lowered", (data) => {
    hands.set(data.user_id, false);
    renderPresence();
  });
  sub.on("participants.count", (data) => {
    participantsCount = typeof data === "number" ? data : data.count ?? data.participants ?? null;
    renderPresence();
  });
  sub.on("reaction", (data) => {
    const bubble = h("span", { class: "reaction" }, data.emoji);
    reactionFeed.appendChild(bubble);
    setTimeout(() => bubble.remove(), 4000);
  });
  const showConn = ({ state }) => {
    connBadge.dataset.state = state;
    connBadge.querySelector(".conn-text").textContent = state === "open" ? "live" : state;
  };
  const offState = ctx.hub.on("state", showConn);
  showConn({ state: ctx.hub.state });

  page = root.appendChild(
    h(
      "section",
      { class: "page room" },
      h("p", {}, h("a", { href: "#/sessions" }, "← Workshops")),
      h("div", { class: "room-head card" }, h("h1", {}, session.title), h("div", { class: "row" }, statusBadge, connBadge, countEl, nameSpan(session.host_id, session.host?.full_name), h("span", { class: "muted" }, "hosts"))),
      error,
      hostBar,
      moderationBar,
      moderationState,
      announcements,
      h(
        "div",
        { class: "room-grid" },
        h(
          "section",
          { class: "card", "aria-labelledby": "people-h" },
          h("h2", { id: "people-h" }, "People"),
          presenceList,
          handButton,
          h("div", { class: "reactions", role: "group", "aria-label": "Send a reaction" }, REACTIONS.map((emoji) => h("button", { type: "button", class: "reaction-button", "aria-label": `React ${emoji}`, onclick: () => publish("reaction", { emoji }).catch(() => {}) }, emoji))),
          reactionFeed,
        ),
        h("section", { class: "card", "aria-labelledby": "chat-h" }, h("h2", { id: "chat-h" }, "Chat"), chatList, composer("Chat message", "chat.message", "Say something…")),
        h("section", { class: "card", "aria-labelledby": "qa-h" }, h("h2", { id: "qa-h" }, "Questions"), composer("Ask a question", "question.ask", "Ask the host…"), questionList),
      ),
    ),
  );
  renderStatus();
  renderPresence();
  await loadMessages().catch((err) => showError(error, err.status === 403 ? new Error("Register for this workshop to enter its room.") : err));
  await loadModeration().catch(() => {}); // refused exactly when the messages were, which said why
  return () => {
    offState();
    offError();
    clearTimeout(muteTimer);
    sub.unsubscribe();
  };
}
