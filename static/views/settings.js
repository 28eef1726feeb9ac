/**
 * Settings (`#/settings`): profile and time zone, email verification, password change, email change, the
 * data export download and account deletion. Notification preferences live on their own page
 * (`#/settings/notifications`), linked from here.
 */

import { busy, field, h, replace } from "../dom.js";

function section(title, ...children) {
  return h("section", { class: "card settings-section", "aria-label": title }, h("h2", {}, title), ...children);
}

function form(label, fields, buttonText, action, buttonClass = "primary") {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const done = h("p", { role: "status", class: "muted", hidden: true });
  const submit = h("button", { type: "submit", class: buttonClass }, buttonText);
  const el = h("form", { "aria-label": label }, ...fields, error, done, submit);
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        done.hidden = true;
        const message = await action();
        if (message) {
          replace(done, message);
          done.hidden = false;
        }
      },
      error,
    );
  });
  return el;
}

function zones(current) {
  const names = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  const all = names.includes("UTC") ? names : ["UTC", ...names];
  if (current && !all.includes(current)) all.unshift(current);
  return h("select", { name: "timezone" }, ...all.map((z) => h("option", { value: z, selected: z === current }, z)));
}

function password(name, autocomplete, minlength = null) {
  return h("input", { type: "password", name, autocomplete, required: true, minlength, maxlength: 256 });
}

function profileSection(ctx, profile) {
  const fullName = h("input", { type: "text", name: "full_name", maxlength: 200, value: profile.full_name || "" });
  const bio = h("textarea", { name: "bio", maxlength: 2000, rows: 3 }, profile.bio || "");
  const avatar = h("input", { type: "url", name: "avatar_url", maxlength: 2048, value: profile.avatar_url || "" });
  const timezone = zones(profile.timezone);
  return section(
    "Profile",
    form("Profile", [field("Name", fullName), field("Bio", bio), field("Avatar URL", avatar), field("Time zone", timezone)],
      "Save profile", async () => {
        await ctx.api.patch("/api/profiles/me", {
          full_name: fullName.value.trim() || null,
          bio: bio.value.trim() || null,
          avatar_url: avatar.value.trim() || null,
          timezone: timezone.value,
        });
        await ctx.api.me();
        return "Saved.";
      }),
  );
}

function verificationSection(ctx, user) {
  if (user.email_confirmed_at) return section("Email", h("p", {}, `${user.email} — verified.`));
  const resend = h("button", { type: "button" }, "Send the link again");
  const status = h("p", { role: "status", class: "muted" });
  resend.addEventListener("click", () =>
    busy(resend, async () => {
      await ctx.api.post("/api/auth/verify/resend");
      replace(status, `A new link is on its way to ${user.email}.`);
    }, status),
  );
  return section(
    "Email",
    h("p", { class: "notice" }, `${user.email} is not verified yet: open the link we mailed you to post, comment, vote and register.`),
    resend,
    status,
  );
}

function passwordSection(ctx) {
  const current = password("current_password", "current-password");
  const next = password("new_password", "new-password", 8);
  return section(
    "Password",
    form("Change password", [field("Current password", current), field("New password (at least 8 characters)", next)],
      "Change password", async () => {
        const pair = await ctx.api.post("/api/auth/password", { current_password: current.value, new_password: next.value });
        ctx.api.setSession(pair);
        ctx.signedIn({ stay: true });
        current.value = next.value = "";
        return "Password changed; your other devices were signed out.";
      }),
  );
}

function emailSection(ctx) {
  const email = h("input", { type: "email", name: "new_email", autocomplete: "email", required: true, maxlength: 254 });
  const current = password("password", "current-password");
  return section(
    "Change email",
    form("Change email", [field("New email", email), field("Password", current)], "Send confirmation link", async () => {
      await ctx.api.post("/api/auth/email", { new_email: email.value.trim(), password: current.value });
      current.value = "";
      return `Open the link we mailed to ${email.value.trim()} to finish the change.`;
    }),
  );
}

function exportSection(ctx) {
  const button = h("button", { type: "button" }, "Download my data");
  const status = h("p", { role: "status", class: "muted" });
  button.addEventListener("click", () =>
    busy(button, async () => {
      const document_ = await ctx.api.get("/api/me/export");
      const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
      const link = h("a", { href: URL.createObjectURL(blob), download: "hub-export.json" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      replace(status, "Your export was downloaded as hub-export.json.");
    }, status),
  );
  return section("Your data", h("p", { class: "muted" }, "Everything the hub stores about you, as one JSON file."),
    button, status);
}

function deleteSection(ctx) {
  const current = password("password", "current-password");
  const sure = h("input", { type: "checkbox", name: "confirm", required: true });
  return section(
    "Delete account",
    h("p", {}, "Deleting removes your email, name, avatar, bio and sign-in for good. Your posts and comments stay, " +
      "shown as written by a deleted user; a subscription is cancelled. This cannot be undone."),
    form("Delete account", [field("Password", current), h("label", { class: "check" }, sure, " I understand this cannot be undone")],
      "Delete my account", async () => {
        await ctx.api.request("DELETE", "/api/me", { body: { password: current.value } });
        ctx.signedOut();
        ctx.toast("Your account was deleted.", "success");
        return null;
      }, "danger"),
  );
}

export async function render(root, ctx) {
  const [user, profile] = await Promise.all([ctx.api.me(), ctx.api.get("/api/profiles/me")]);
  root.appendChild(
    h(
      "section",
      { class: "narrow settings" },
      h("h1", {}, "Settings"),
      h("p", {}, h("a", { href: "#/settings/notifications", id: "notification-settings-link" }, "Notification preferences")),
      profileSection(ctx, profile),
      verificationSection(ctx, user),
      passwordSection(ctx),
      emailSection(ctx),
      exportSection(ctx),
      deleteSection(ctx),
    ),
  );
}
