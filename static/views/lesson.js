/**
 * The lesson player: the lesson's content (`content_data.sections`: Markdown text, images, videos), its
 * quiz (radio buttons for one answer, checkboxes for several, a number field for numeric questions),
 * graded on the server; then the result per question, the XP gained, the next lesson and the level's
 * progress. The learner's level and XP update from `user:<id>` events (`xp.awarded`, `level.up`), as on
 * every page — not from the attempt's answer — so what the page shows is what the live channel said.
 *
 * The lesson view never carries answers or explanations (the server strips them); explanations arrive in
 * the answer to a passing attempt only.
 */

import { newIdempotencyKey } from "../api.js";
import { busy, field, formatDuration, h, itemsOf, listenEach, replace, showError } from "../dom.js";
import { renderMarkdown, safeUrl } from "../markdown.js";

const VIDEO_FILE = /\.(mp4|webm|ogv|ogg|m4v)(?:$|[?#])/i;

export async function render(root, ctx, { id }) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const [me, lesson, catalogue, progressData] = await Promise.all([
    ctx.api.me(),
    ctx.api.get(`/api/lessons/${id}`).catch((err) => {
      if (err.status === 402) return { planRequired: true, message: err.message };
      throw err;
    }),
    ctx.api.all("/api/lessons"),
    ctx.api.all("/api/progress/me").catch(() => []),
  ]);
  const completed = new Set(itemsOf(progressData).filter((row) => row.completed).map((row) => row.lesson_id));
  const entry = catalogue.find((l) => l.id === id);
  const stats = { level: me.level ?? 1, total_xp: me.total_xp ?? 0, next_level_xp: null };

  const statsBox = h("dl", { class: "stats player-stats", "aria-label": "Your level", "aria-live": "polite" });
  const levelBox = h("div", { class: "level-progress" });
  const renderStats = () =>
    replace(
      statsBox,
      h("div", { class: "stat stat-level" }, h("dt", {}, "Level"), h("dd", {}, String(stats.level))),
      h(
        "div",
        { class: "stat stat-xp" },
        h("dt", {}, "XP"),
        h("dd", {}, String(stats.total_xp)),
        stats.next_level_xp ? h("dd", { class: "muted small" }, `next level at ${stats.next_level_xp}`) : null,
      ),
    );
  const levelLessons = entry ? catalogue.filter((l) => l.level_id === entry.level_id) : [];
  const renderLevel = () => {
    if (!entry) return replace(levelBox);
    const done = levelLessons.filter((l) => completed.has(l.id)).length;
    replace(
      levelBox,
      h("span", { class: "small" }, `Level ${entry.level_id}: ${done} of ${levelLessons.length} lessons done`),
      h("progress", { max: levelLessons.length, value: done, "aria-label": `Level ${entry.level_id} progress` }),
    );
  };
  const order = (l) => [l.level_id, l.gate_id, l.order_index];
  const sorted = [...catalogue].sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || (a.id < b.id ? -1 : 1);
  });
  const next = entry ? sorted[sorted.indexOf(entry) + 1] : null;
  const nextLink = () =>
    next
      ? h("a", { class: "button primary", href: `#/lessons/${next.id}` }, `Next lesson: ${next.title}`)
      : h("a", { class: "button", href: "#/lessons" }, "All lessons");

  const page = h(
    "article",
    { class: "page lesson-player", "aria-labelledby": "lesson-title" },
    h("p", {}, h("a", { href: "#/lessons" }, "← All lessons")),
    statsBox,
    levelBox,
  );
  renderStats();
  renderLevel();

  if (lesson.planRequired) {
    page.append(
      h("h1", { id: "lesson-title" }, entry?.title ?? "Lesson"),
      h("p", { class: "card" }, h("span", { class: "badge lock" }, "Plan required"), " ", lesson.message),
    );
    root.appendChild(page);
    return listen();
  }

  const meta = [lesson.difficulty, `${lesson.xp_reward ?? 0} XP`, lesson.estimated_time ? formatDuration(lesson.estimated_time) : null];
  page.append(
    ...[
      h("h1", { id: "lesson-title" }, lesson.title),
      lesson.subtitle ? h("p", { class: "muted" }, lesson.subtitle) : null,
      h("p", { class: "muted small" }, meta.filter(Boolean).join(" · "), completed.has(id) ? " · completed ✓" : ""),
      h("section", { class: "card lesson-content", "aria-label": "Lesson" }, content(lesson.content_data)),
      error,
    ].filter(Boolean), // native `append` would show a null as the text "null"
  );

  const questions = Array.isArray(lesson.assessment_data?.questions) ? lesson.assessment_data.questions : [];
  const started = Date.now();
  const seconds = () => Math.min(86_400, Math.max(1, Math.round((Date.now() - started) / 1000)));
  const result = h("section", { class: "card quiz-result", "aria-live": "polite", tabindex: "-1", hidden: true });

  if (questions.length) {
    const passMark = Number.isInteger(lesson.assessment_data.pass_score) ? lesson.assessment_data.pass_score : 70;
    const inputs = questions.map((q, n) => questionInput(q, n));
    const submit = h("button", { type: "submit", class: "primary" }, "Submit answers");
    const form = h(
      "form",
      { class: "card quiz", "aria-labelledby": "quiz-title", novalidate: true },
      h("h2", { id: "quiz-title" }, "Quiz"),
      h("p", { class: "muted small" }, `${questions.length} question${questions.length === 1 ? "" : "s"} · pass with ${passMark}% or more`),
      inputs.map((i) => i.el),
      h("div", { class: "row" }, submit),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(
        submit,
        async () => {
          const answer = await ctx.api.post(
            `/api/lessons/${id}/attempts`,
            { answers: inputs.map((i) => i.value()), time_spent_seconds: seconds() },
            { idempotencyKey: newIdempotencyKey() },
          );
          inputs.forEach((input, n) => input.mark(answer.results?.[n]));
          showResult(answer, passMark);
        },
        error,
      );
    });
    page.append(form, result);
  } else {
    const done = h("button", { type: "button", class: "primary", disabled: completed.has(id) }, completed.has(id) ? "Completed ✓" : "Mark as complete");
    done.addEventListener("click", () =>
      busy(
        done,
        async () => {
          const answer = await ctx.api.post(
            `/api/lessons/${id}/attempts`,
            { score: 100, completed: true, time_spent_seconds: seconds() },
            { idempotencyKey: newIdempotencyKey() },
          );
          showResult(answer, null);
        },
        error,
      ).then(() => {
        if (completed.has(id)) {
          replace(done, "Completed ✓");
          done.disabled = true;
        }
      }),
    );
    page.append(h("div", { class: "row" }, done), result);
  }

  function showResult(answer, passMark) {
    if (answer.passed) completed.add(id);
    renderLevel();
    const xp = answer.xp_awarded || 0;
    const heading = passMark === null ? "Lesson completed" : answer.passed ? `Passed with ${answer.score}%` : `Not passed: ${answer.score}%`;
    replace(
      result,
      h("h2", { class: answer.passed ? "good" : "bad" }, heading),
      passMark !== null && !answer.passed ? h("p", {}, `You need ${passMark}% to pass. Check the questions marked ✗ and try again.`) : null,
      h("p", { class: "xp-gained" }, xp ? `+${xp} XP` : answer.passed ? "No new XP: you had already completed this lesson." : "No XP this time."),
      answer.level_up ? h("p", {}, `Level up! You are now level ${answer.level}.`) : null,
      answer.passed ? h("div", { class: "row" }, nextLink()) : null,
    );
    result.hidden = false;
    result.focus();
  }

  root.appendChild(page);
  return listen();

  function listen() {
    const listeners = {
      "xp.awarded": (d) => Object.assign(stats, { total_xp: d.total_xp ?? stats.total_xp, level: d.level ?? stats.level, next_level_xp: d.next_level_xp ?? stats.next_level_xp }),
      "level.up": (d) => Object.assign(stats, { level: d.to ?? stats.level }),
    };
    return listenEach(ctx.userEvents, listeners, renderStats);
  }
}

/** The sections of `content_data`: `{kind: "text", body}` (Markdown), `{kind: "image", url, alt}`,
 * `{kind: "video", url, title}`; a lone `body`/`text` string is one text section. */
function content(data) {
  const sections = Array.isArray(data?.sections) ? data.sections : typeof (data?.body ?? data?.text) === "string" ? [{ kind: "text", body: data.body ?? data.text }] : [];
  const nodes = sections.map(section).filter(Boolean);
  return nodes.length ? nodes : h("p", { class: "muted" }, "This lesson has no text.");
}

function section(s) {
  if (!s || typeof s !== "object") return null;
  if (s.kind === "text" && typeof s.body === "string") return h("div", { class: "md" }, renderMarkdown(s.body));
  const url = safeUrl(s.url);
  if (s.kind === "image" && url) {
    return h("figure", {}, h("img", { src: url, alt: String(s.alt ?? ""), loading: "lazy" }), s.caption ? h("figcaption", {}, String(s.caption)) : null);
  }
  if (s.kind === "video" && url) {
    const label = String(s.title ?? "Watch the video");
    // Direct files play here (the page's policy allows https media); others (YouTube…) open as a link,
    // since the policy allows no frames.
    return VIDEO_FILE.test(new URL(url).pathname)
      ? h("figure", {}, h("video", { src: url, controls: true, preload: "metadata", "aria-label": label }), h("figcaption", {}, label))
      : h("p", {}, h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank", class: "button" }, `▶ ${label}`));
  }
  return null;
}

/** One question's inputs: `{el, value(), mark(result)}`. */
function questionInput(q, n) {
  const name = `q${n}`;
  const feedback = h("p", { class: "feedback", "aria-live": "polite", hidden: true });
  // Learners get `kind` from the server; an admin's view has the answer key instead.
  const kind = q.kind ?? (Array.isArray(q.answer) ? "multiple" : Array.isArray(q.choices) ? "single" : "numeric");
  const legend = h("legend", {}, `${n + 1}. `, String(q.q ?? ""));
  let inputs = [];
  let body;
  if (kind === "numeric") {
    const input = h("input", { type: "number", step: "any", inputmode: "decimal", name, "aria-describedby": `${name}-hint` });
    inputs = [input];
    const hint = q.tolerance ? `Answers within ±${q.tolerance} count.` : "Enter a number.";
    body = [field("Your answer", input), h("p", { class: "muted small", id: `${name}-hint` }, hint)];
  } else {
    const type = kind === "multiple" ? "checkbox" : "radio";
    inputs = (q.choices || []).map((_, i) => h("input", { type, name, value: String(i), id: `${name}-${i}` }));
    body = [
      kind === "multiple" ? h("p", { class: "muted small" }, "Select every right answer.") : null,
      h("ul", { class: "choices" }, (q.choices || []).map((c, i) => h("li", {}, h("label", { for: `${name}-${i}` }, inputs[i], " ", String(c))))),
    ];
  }
  const el = h("fieldset", { class: "question", dataset: { question: String(n) } }, legend, body, feedback);
  return {
    el,
    value() {
      if (kind === "numeric") {
        const text = inputs[0].value.trim();
        return text === "" || !Number.isFinite(Number(text)) ? null : Number(text);
      }
      const picked = inputs.filter((i) => i.checked).map((i) => Number(i.value));
      if (kind === "multiple") return picked;
      return picked.length ? picked[0] : null;
    },
    mark(result) {
      if (!result) return;
      el.dataset.correct = String(result.correct);
      replace(feedback, result.correct ? "✓ Right" : "✗ Not right", result.explanation ? h("span", { class: "explanation" }, ` — ${result.explanation}`) : null);
      feedback.hidden = false;
    },
  };
}
