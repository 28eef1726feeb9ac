/**
 * Pages reached from mailed links, and the way to ask for one: `#/verify?token=` (email verification),
 * `#/forgot` (ask for a reset link), `#/reset?token=` (choose a new password), `#/email/confirm?token=`
 * (confirm a new address). Verification and reset answer a token pair: the page signs the browser in.
 */

import { busy, field, h, replace } from "../dom.js";

function page(root, title, ...children) {
  root.appendChild(h("section", { class: "narrow" }, h("div", { class: "card auth" }, h("h1", {}, title), ...children)));
}

function linkError(err) {
  return err.code === "invalid_token"
    ? "This link is invalid, was already used or has expired. Ask for a new one."
    : err.message;
}

/** Spends the link's token as soon as the page opens (the link is the user's click). */
async function verify(root, ctx, token) {
  const status = h("p", { role: "status" }, "Verifying your email address…");
  page(root, "Email verification", status);
  try {
    const pair = await ctx.api.post("/api/auth/verify", { token }, { auth: false });
    ctx.api.setSession(pair);
    replace(status, "Your email address is verified. You can post, comment, vote and register now.");
    status.after(h("p", {}, h("a", { href: "#/feed" }, "Go to the feed")));
    ctx.signedIn({ stay: true });
  } catch (err) {
    status.setAttribute("role", "alert");
    status.className = "error";
    replace(status, linkError(err));
  }
}

function forgot(root, ctx) {
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: 254 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const done = h("p", { role: "status", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Send reset link");
  const form = h("form", { "aria-label": "Forgot password" }, field("Email", email), error, done, submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        await ctx.api.post("/api/auth/recover", { email: email.value.trim() }, { auth: false });
        replace(done, "If an account uses this address, a reset link is on its way. It works once, for an hour.");
        done.hidden = false;
      },
      error,
    );
  });
  page(root, "Forgot your password?", form, h("p", { class: "muted" }, h("a", { href: "#/login" }, "Back to log in")));
  email.focus();
}

function reset(root, ctx, token) {
  const password = h("input", {
    type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8, maxlength: 256,
  });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Set new password");
  const form = h("form", { "aria-label": "Reset password" }, field("New password (at least 8 characters)", password),
    error, submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        try {
          const pair = await ctx.api.post("/api/auth/reset", { token, password: password.value }, { auth: false });
          ctx.api.setSession(pair);
          ctx.toast("Your password was changed; every other device was signed out.", "success");
          ctx.signedIn();
        } catch (err) {
          err.message = linkError(err);
          throw err;
        }
      },
      error,
    );
  });
  page(root, "Choose a new password", form);
  password.focus();
}

async function confirmEmail(root, ctx, token) {
  const status = h("p", { role: "status" }, "Confirming your new address…");
  page(root, "Email change", status);
  try {
    const { email } = await ctx.api.post("/api/auth/email/confirm", { token }, { auth: false });
    replace(status, `Your account now signs in with ${email}.`);
    if (ctx.api.session) await ctx.api.token({ forceRefresh: true }).then(() => ctx.api.me()).catch(() => null);
  } catch (err) {
    status.setAttribute("role", "alert");
    status.className = "error";
    replace(status, linkError(err));
  }
}

export function render(root, ctx, { mode, token }) {
  if (mode === "verify") return verify(root, ctx, token);
  if (mode === "forgot") return forgot(root, ctx);
  if (mode === "reset") return reset(root, ctx, token);
  return confirmEmail(root, ctx, token);
}
