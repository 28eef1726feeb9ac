/** Leaderboards with period tabs; the open period's `leaderboard:<period>` keeps the top 20 live. */

import { h, itemsOf, replace } from "../dom.js";

const PERIODS = [
  ["daily", "Today"],
  ["weekly", "This week"],
  ["monthly", "This month"],
  ["all_time", "All time"],
];

export async function render(root, ctx, { period = "weekly" }) {
  const me = ctx.user;
  const body = h("tbody");
  const mine = h("p", { class: "muted my-rank", "aria-live": "polite" });
  const updated = h("p", { class: "muted small", "aria-live": "polite" });
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist", "aria-label": "Period" },
    PERIODS.map(([value, label]) =>
      h(
        "a",
        { role: "tab", href: `#/leaderboard/${value}`, "aria-selected": String(value === period), class: value === period ? "active" : "" },
        label,
      ),
    ),
  );

  const renderRows = (rows) => {
    replace(
      body,
      rows.length
        ? rows.map((row) =>
            h(
              "tr",
              { class: me && row.user_id === me.id ? "me" : "", dataset: { userId: row.user_id } },
              h("td", { class: "rank" }, `#${row.rank}`),
              h("td", {}, row.full_name || `user ${String(row.user_id).slice(0, 8)}`),
              h("td", { class: "num xp" }, String(row.xp_points)),
              h("td", { class: "num hide-narrow" }, String(row.lessons_completed ?? 0)),
              h("td", { class: "num hide-narrow" }, String(row.streak_days ?? 0)),
            ),
          )
        : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No one has earned XP in this period yet.")),
    );
  };
  const loadMine = async () => {
    const standing = await ctx.api.get("/api/leaderboard/me", { period }).catch(() => null);
    const row = standing?.me;
    mine.textContent = row ? `You are #${row.rank} with ${row.xp_points} XP (ahead of ${Math.round(row.percentile ?? 0)}% of learners).` : "Complete a lesson to get on the board.";
  };
  const load = async () => {
    renderRows(itemsOf(await ctx.api.get("/api/leaderboard", { period, limit: 20 })));
    await loadMine();
  };

  const sub = ctx.hub.subscribe(`leaderboard:${period}`, {
    onSnapshot: (snapshot) => {
      if (snapshot?.items) renderRows(snapshot.items);
    },
  });
  sub.on("leaderboard.changed", (data) => {
    renderRows(itemsOf(data));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    loadMine();
  });

  root.appendChild(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Leaderboard")),
      tabs,
      h(
        "div",
        { class: "card", role: "tabpanel" },
        mine,
        h(
          "table",
          { class: "board", "aria-label": `Leaderboard, ${PERIODS.find((p) => p[0] === period)[1]}` },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Rank"),
              h("th", { scope: "col" }, "Learner"),
              h("th", { scope: "col", class: "num" }, "XP"),
              h("th", { scope: "col", class: "num hide-narrow" }, "Lessons"),
              h("th", { scope: "col", class: "num hide-narrow" }, "Streak"),
            ),
          ),
          body,
        ),
        updated,
      ),
    ),
  );
  await load();
  return () => sub.unsubscribe();
}
