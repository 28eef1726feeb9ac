/** Sign up and log in. */

import { busy, field, h } from "../dom.js";

export function render(root, ctx, { mode }) {
  const signup = mode === "signup";
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: 254 });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: signup ? "new-password" : "current-password",
    required: true,
    minlength: signup ? 8 : null,
    maxlength: 256,
  });
  const fullName = h("input", { type: "text", name: "full_name", autocomplete: "name", maxlength: 200 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, signup ? "Create account" : "Log in");
  const form = h(
    "form",
    { class: "card auth", "aria-label": signup ? "Sign up" : "Log in" },
    h("h1", {}, signup ? "Join the community" : "Welcome back"),
    signup ? field("Your name", fullName) : null,
    field("Email", email),
    field(signup ? "Password (at least 8 characters)" : "Password", password),
    error,
    submit,
    signup ? null : h("p", { class: "muted" }, h("a", { href: "#/forgot" }, "Forgot your password?")),
    h(
      "p",
      { class: "muted" },
      signup ? "Already have an account? " : "New here? ",
      h("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Log in" : "Create an account"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        if (signup) await ctx.api.signup(email.value.trim(), password.value, fullName.value.trim());
        else await ctx.api.login(email.value.trim(), password.value);
        ctx.signedIn();
      },
      error,
    );
  });
  root.appendChild(h("section", { class: "narrow" }, form));
  email.focus();
}
