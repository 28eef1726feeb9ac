/**
 * The learner's progress: the streak, a heat map of the last 365 days (first lesson completions per day
 * in the learner's time zone, `GET /api/streaks/me/calendar`) and every achievement with how far along
 * it is (`GET /api/achievements/me`). Both reload when `user:<id>` says something moved (a completion
 * always brings `xp.awarded` or `streak.updated`).
 */

import { h, itemsOf, replace } from "../dom.js";

const LIVE_EVENTS = ["streak.updated", "xp.awarded", "achievement.unlocked"];
const DAY_MS = 86_400_000;

/** "YYYY-MM-DD" ↔ a UTC midnight: calendar arithmetic without the browser's own time zone. */
const dayMs = (iso) => Date.parse(`${iso}T00:00:00Z`);
const isoOf = (ms) => new Date(ms).toISOString().slice(0, 10);

function heatLevel(count) {
  if (count <= 0) return 0;
  if (count === 1) return 1;
  if (count <= 3) return 2;
  if (count <= 5) return 3;
  return 4;
}

function heatCell(iso, count) {
  const label = `${count} ${count === 1 ? "activity" : "activities"} on ${iso}`;
  return h("span", { class: "heat-day", role: "img", "aria-label": label, title: label, dataset: { date: iso, count: String(count), level: String(heatLevel(count)) } });
}

/** Weeks as columns (Monday on top), oldest on the left, like the day grid of a calendar. */
function heatMap(calendar) {
  const counts = new Map(calendar.days.map((d) => [d.date, d.count]));
  const start = dayMs(calendar.start);
  const end = dayMs(calendar.end);
  const blanks = (new Date(start).getUTCDay() + 6) % 7; // days before the first one in its Monday-first week
  const cells = [];
  for (let i = 0; i < blanks; i += 1) cells.push(h("span", { class: "heat-day heat-blank", "aria-hidden": "true" }));
  for (let ms = start; ms <= end; ms += DAY_MS) {
    const iso = isoOf(ms);
    cells.push(heatCell(iso, counts.get(iso) || 0));
  }
  const active = calendar.days.length;
  return h(
    "div",
    { class: "heat-wrap" },
    h("div", { class: "heatmap", role: "group", "aria-label": `Activity from ${calendar.start} to ${calendar.end} (${calendar.time_zone})` }, cells),
    h("p", { class: "muted small heat-summary" }, `${active} active ${active === 1 ? "day" : "days"} in the last year · days in ${calendar.time_zone}`),
  );
}

function achievementItem(a) {
  const target = a.target;
  const status = a.unlocked ? "Unlocked" : target === null ? "Not reachable yet" : `${a.progress_value} of ${target}`;
  return h(
    "li",
    { class: `achievement${a.unlocked ? " unlocked" : ""}`, dataset: { code: a.code } },
    h("div", {}, h("strong", {}, a.title), h("div", { class: "muted small" }, a.description)),
    target
      ? h("progress", { max: String(target), value: String(a.unlocked ? target : a.progress_value), "aria-label": `${a.title}: ${status}` })
      : null,
    h("span", { class: "small achievement-status" }, status),
  );
}

export async function render(root, ctx) {
  const streakBox = h("p", { class: "streak-line", "aria-live": "polite" });
  const heat = h("div", { class: "card" });
  const achievements = h("ul", { class: "achievements" });
  const error = h("p", { class: "error", role: "alert", hidden: true });

  let loading = null;
  let again = false;
  const load = async () => {
    if (loading) {
      again = true; // an event arrived mid-load: read once more when this load ends
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        try {
          const [calendar, mine] = await Promise.all([
            ctx.api.get("/api/streaks/me/calendar"),
            ctx.api.get("/api/achievements/me", { limit: 100 }),
          ]);
          const current = calendar.current_streak;
          streakBox.textContent = `Current streak: ${current} ${current === 1 ? "day" : "days"} · longest: ${calendar.longest_streak}`;
          replace(heat, heatMap(calendar));
          replace(achievements, itemsOf(mine).map(achievementItem));
          error.hidden = true;
        } catch (err) {
          error.textContent = `Could not load your progress: ${err.message}`;
          error.hidden = false;
        }
      } while (again);
      loading = null;
    })();
    return loading;
  };

  const onEvent = () => load();
  for (const event of LIVE_EVENTS) ctx.userEvents.addEventListener(event, onEvent);

  root.appendChild(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Progress")),
      error,
      streakBox,
      h("h2", {}, "Activity"),
      heat,
      h("h2", {}, "Achievements"),
      achievements,
    ),
  );
  await load();
  return () => LIVE_EVENTS.forEach((event) => ctx.userEvents.removeEventListener(event, onEvent));
}
