/**
 * Lessons by level, with the learner's progress, XP, level and streak. Each lesson opens in the lesson
 * player (views/lesson.js); XP, level-ups and achievements arrive on `user:<id>` (toasts come from app.js;
 * this page updates its numbers from the same events).
 */

import { h, itemsOf, listenEach, replace } from "../dom.js";

export async function render(root, ctx) {
  const stats = { level: null, total_xp: null, streak: null, next_level_xp: null, access: 1 };
  const statsBox = h("dl", { class: "stats", "aria-label": "Your progress" });
  const levels = h("div", { class: "levels" });
  const completed = new Set();

  const renderStats = () =>
    replace(
      statsBox,
      stat("Level", stats.level ?? "–", "stat-level"),
      stat("XP", stats.total_xp ?? "–", "stat-xp", stats.next_level_xp ? `next level at ${stats.next_level_xp}` : null),
      stat("Streak", stats.streak === null ? "–" : `${stats.streak} day${stats.streak === 1 ? "" : "s"}`, "stat-streak"),
      stat("Completed", completed.size, "stat-completed"),
    );

  const [me, lessonData, progressData, streak] = await Promise.all([
    ctx.api.me(),
    ctx.api.all("/api/lessons"),
    ctx.api.get("/api/progress/me").catch(() => []),
    ctx.api.get("/api/streaks/me").catch(() => null),
  ]);
  stats.level = me.level;
  stats.total_xp = me.total_xp;
  stats.access = me.level_access_limit ?? 1;
  stats.streak = streak?.current_streak ?? 0;
  for (const row of itemsOf(progressData)) if (row.completed) completed.add(row.lesson_id);

  const byLevel = new Map();
  for (const lesson of lessonData) {
    if (!byLevel.has(lesson.level_id)) byLevel.set(lesson.level_id, []);
    byLevel.get(lesson.level_id).push(lesson);
  }
  for (const [level, lessons] of [...byLevel].sort((a, b) => a[0] - b[0])) {
    const locked = level > stats.access;
    const done = lessons.filter((l) => completed.has(l.id)).length;
    levels.appendChild(
      h(
        "section",
        { class: "card level", "aria-label": `Level ${level}` },
        h(
          "div",
          { class: "level-head" },
          h("h2", {}, `Level ${level}`),
          locked ? h("span", { class: "badge lock" }, "Plan required") : null,
          h("progress", { max: lessons.length, value: done, "aria-label": `Level ${level} progress` }),
          h("span", { class: "muted level-count", dataset: { total: lessons.length } }, `${done}/${lessons.length}`),
        ),
        h("ol", { class: "lessons" }, lessons.map((lesson) => lessonRow(lesson, locked))),
      ),
    );
  }
  if (!byLevel.size) levels.appendChild(h("p", { class: "card muted" }, "No lessons yet."));

  function lessonRow(lesson, locked) {
    const isDone = completed.has(lesson.id);
    return h(
      "li",
      { class: `lesson${isDone ? " done" : ""}`, dataset: { lessonId: lesson.id } },
      h(
        "div",
        { class: "lesson-text" },
        h("strong", {}, lesson.title),
        lesson.subtitle ? h("span", { class: "muted" }, ` — ${lesson.subtitle}`) : null,
        h("div", { class: "muted small" }, `${lesson.difficulty || ""} · ${lesson.xp_reward ?? 0} XP`),
      ),
      h(
        "a",
        { class: `button${isDone || locked ? "" : " primary"}`, href: `#/lessons/${lesson.id}`, "aria-label": `Open ${lesson.title}` },
        isDone ? "Completed ✓" : locked ? "Preview" : "Start",
      ),
    );
  }

  // Live numbers from the user's own channel (the same events that show the toasts).
  const listeners = {
    "xp.awarded": (d) => Object.assign(stats, { total_xp: d.total_xp ?? stats.total_xp, level: d.level ?? stats.level, next_level_xp: d.next_level_xp ?? stats.next_level_xp }),
    "level.up": (d) => Object.assign(stats, { level: d.level ?? d.to ?? stats.level }),
    "streak.updated": (d) => Object.assign(stats, { streak: d.current_streak ?? stats.streak }),
  };
  const stop = listenEach(ctx.userEvents, listeners, renderStats);

  renderStats();
  root.appendChild(h("section", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Lessons")), statsBox, levels));
  return stop;
}

function stat(label, value, cls, note) {
  return h("div", { class: `stat ${cls}` }, h("dt", {}, label), h("dd", {}, String(value)), note ? h("dd", { class: "muted small" }, note) : null);
}
