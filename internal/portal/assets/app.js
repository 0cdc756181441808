// paykeys reference merchant portal. Plain JavaScript, no build step, no
// third-party code. The page builds its DOM with createElement only (the
// Content-Security-Policy allows no HTML-parsing sink), keeps the
// API token in a variable of this closure (never in storage or a cookie), and
// shows each secret once, in a dialog that forgets it when it closes.
"use strict";

(() => {
  // --- session: in memory only ---------------------------------------------
  let token = null; // the API token; a reload signs out
  let who = null; // {merchant, role, sub}
  let settings = { scopes: [], dev_signin: null, oidc: null };

  const MANAGE = ["root", "admin"];
  const VERIFY = ["root", "admin", "developer"];
  const can = {
    manage: () => who && MANAGE.includes(who.role),
    verify: () => who && VERIFY.includes(who.role),
    audit: () => who && MANAGE.includes(who.role),
  };

  // --- DOM helpers -----------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  const SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  function append(el, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  let idSeq = 0;
  const uid = (p) => `${p}-${++idSeq}`;

  function field(label, input, hint) {
    const id = input.id || uid("f");
    input.id = id;
    const hintEl = hint ? h("p", { class: "hint", id: id + "-hint", text: hint }) : null;
    if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input, hintEl);
  }

  function fmtTime(t) {
    if (!t) return "never";
    const d = new Date(t);
    return isNaN(d) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:\d\dZ$/, " UTC");
  }

  function say(msg) {
    $("#status").textContent = msg;
  }
  function alertMsg(msg) {
    const a = $("#alert");
    a.textContent = msg;
    a.hidden = !msg;
  }

  // --- API -------------------------------------------------------------------
  class APIError extends Error {
    constructor(status, code, plain, retryAfter) {
      super(plain);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  // plain turns an API error into words a merchant understands.
  function plain(status, body, retryAfter) {
    const msg = body && body.error && body.error.message ? body.error.message : "";
    switch (status) {
      case 400: return `That was not accepted: ${msg || "check the form"}.`;
      case 401: return "Your sign-in has ended. Please sign in again.";
      case 403: return `Your role (${who ? who.role : "unknown"}) may not do this.`;
      case 404: return "We could not find it: it may have been deleted.";
      case 409: return `That cannot be done now: ${msg || "it conflicts with the current state"}.`;
      case 413: return "That is too large to send.";
      case 429: return `Too many attempts. Try again in ${retryAfter || "a few"} seconds.`;
      default:
        if (status >= 500) return "The service could not answer just now. Please try again in a moment.";
        return `Something went wrong (HTTP ${status}).`;
    }
  }

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: "application/json" }, extraHeaders || {});
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      });
    } catch (e) {
      throw new APIError(0, "network", "We could not reach the service. Check your connection and try again.");
    }
    let data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const retry = res.headers.get("Retry-After");
      const err = new APIError(res.status, data && data.error ? data.error.code : "", plain(res.status, data, retry), retry);
      if (res.status === 401) signOut(err.message);
      throw err;
    }
    return data;
  }

  // busy runs an action, showing its error in plain words.
  async function busy(btn, fn) {
    alertMsg("");
    if (btn) btn.disabled = true;
    try {
      return await fn();
    } catch (e) {
      alertMsg(e instanceof APIError ? e.message : "Something went wrong: " + e.message);
      return undefined;
    } finally {
      if (btn && btn.isConnected) btn.disabled = false;
    }
  }

  // --- dialogs ---------------------------------------------------------------
  // openDialog shows a modal dialog (the rest of the page is inert), keeps Tab
  // inside it, and gives focus back to what had it when the dialog closes.
  function openDialog(dlg, { lockEscape } = {}) {
    const returnTo = document.activeElement;
    document.body.append(dlg);
    if (lockEscape) {
      // Escape is refused; a browser that closes the dialog anyway (a
      // second Escape) gets it shown again until the user confirms.
      dlg.addEventListener("cancel", (e) => e.preventDefault());
      dlg.addEventListener("close", (e) => {
        if (dlg.dataset.confirmed) return;
        e.stopImmediatePropagation();
        dlg.showModal();
      });
    }
    dlg.addEventListener("keydown", (e) => {
      if (e.key !== "Tab") return;
      const items = [...dlg.querySelectorAll("button, input, select, textarea, [href], [tabindex]:not([tabindex='-1'])")]
        .filter((x) => !x.disabled && x.offsetParent !== null);
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    });
    dlg.addEventListener("close", () => {
      dlg.remove();
      if (returnTo && returnTo.isConnected) returnTo.focus();
      else $("#main").focus();
    });
    dlg.showModal();
    const auto = dlg.querySelector("[autofocus]");
    if (auto) auto.focus();
  }

  // confirmDialog asks before an action; extra holds more fields. It
  // resolves to true, or false when cancelled.
  function confirmDialog({ title, body, action, danger, extra }) {
    return new Promise((resolve) => {
      const titleId = uid("dlg");
      let ok = false;
      const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId },
        h("h2", { id: titleId, text: title }),
        ...(Array.isArray(body) ? body : [body]).map((p) => h("p", { text: p })),
        extra || null,
        h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", autofocus: true, onclick: () => dlg.close(), text: "Cancel" }),
          h("button", { type: "button", class: danger ? "danger" : "primary", "data-confirm": "",
            onclick: () => { ok = true; dlg.close(); }, text: action })));
      dlg.addEventListener("close", () => resolve(ok));
      openDialog(dlg);
    });
  }

  // take removes a secret from an API answer and returns it, so that only
  // the dialog it goes to ever holds it.
  function take(obj, field) {
    const v = obj[field];
    delete obj[field];
    return v;
  }

  // secretDialog shows a secret once. It closes only once the user ticks
  // that they stored it; then the secret is removed from the DOM and no
  // variable holds it.
  function secretDialog({ title, what, secret, after }) {
    const titleId = uid("dlg");
    const code = h("code", { class: "secret", id: "secret-value", text: secret, tabindex: "0", "aria-label": what });
    secret = null; // from here on only the code element holds it
    const copied = h("p", { class: "copied", role: "status", "aria-live": "polite" });
    const stored = h("input", { type: "checkbox", id: uid("stored") });
    const done = h("button", { type: "button", class: "primary", disabled: true, "data-done": "", text: "Done" });
    const copy = h("button", {
      type: "button", class: "secondary", "data-copy": "", text: "Copy",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(code.textContent);
          copied.textContent = "Copied to the clipboard.";
        } catch (e) {
          copied.textContent = "Copying failed: select the secret and copy it by hand.";
        }
      },
    });
    stored.addEventListener("change", () => { done.disabled = !stored.checked; });
    const dlg = h("dialog", { class: "dialog secret-dialog", "aria-labelledby": titleId, "data-secret-dialog": "" },
      h("h2", { id: titleId, text: title }),
      h("p", { class: "warning", text: `This is the only time the ${what} is shown. Store it somewhere safe now (a secrets manager, not a chat or a ticket). We cannot show it again; if it is lost, you will have to reset it.` }),
      h("div", { class: "secret-row" }, code, copy),
      copied,
      h("div", { class: "check" }, stored, h("label", { for: stored.id, text: `I have stored the ${what}` })),
      h("div", { class: "actions" }, done));
    done.addEventListener("click", () => {
      if (!stored.checked) return;
      code.textContent = "";
      dlg.dataset.confirmed = "true";
      dlg.close();
    });
    dlg.addEventListener("close", () => { if (after) after(); });
    openDialog(dlg, { lockEscape: true });
    copy.focus();
  }

  // --- sign-in -----------------------------------------------------------------
  function signOut(reason) {
    token = null;
    who = null;
    render();
    if (reason) alertMsg(reason);
  }

  function adopt(tok) {
    const parts = tok.split(".");
    let claims = {};
    try {
      claims = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch (e) { claims = {}; }
    token = tok;
    who = { merchant: claims.merchant_id || "?", role: claims.role || "?", sub: claims.sub || "?" };
    if (location.hash === "" || location.hash === "#/" || location.hash === "#/signin") location.hash = "#/keys";
    render();
  }

  function b64url(bytes) {
    let bin = "";
    for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The OIDC sign-in runs in a pop-up, so the verifier and state never
  // leave this page's memory: the pop-up's callback page hands the code back
  // over a same-origin BroadcastChannel and closes.
  async function oidcSignIn(btn) {
    const o = settings.oidc;
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const redirect = location.origin + "/portal/callback";
    const u = new URL(o.authorization_endpoint);
    u.search = new URLSearchParams({
      response_type: "code", client_id: o.client_id, redirect_uri: redirect, scope: o.scope,
      state, code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    const chan = new BroadcastChannel("paykeys-oidc");
    chan.onmessage = async (ev) => {
      if (!ev.data || ev.data.state !== state) return;
      chan.close();
      if (ev.data.error) { alertMsg("Sign-in was refused: " + ev.data.error); return; }
      await busy(btn, async () => {
        const res = await fetch(o.token_endpoint, {
          method: "POST", credentials: "omit", referrerPolicy: "no-referrer",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "authorization_code", code: ev.data.code, redirect_uri: redirect,
            client_id: o.client_id, code_verifier: verifier,
          }).toString(),
        }).catch(() => null);
        if (!res || !res.ok) throw new Error("the issuer did not give a token");
        const t = await res.json();
        const tok = t[o.token || "access_token"];
        if (!tok) throw new Error("the issuer's answer has no " + (o.token || "access_token"));
        adopt(tok);
      });
    };
    const w = window.open(u.toString(), "paykeys-signin", "popup,width=520,height=680");
    if (!w) { chan.close(); alertMsg("Allow pop-ups for this page to sign in."); }
  }

  // callback is the pop-up's page at /portal/callback.
  function callback() {
    const q = new URLSearchParams(location.search);
    const chan = new BroadcastChannel("paykeys-oidc");
    chan.postMessage({ code: q.get("code"), state: q.get("state"), error: q.get("error_description") || q.get("error") });
    chan.close();
    history.replaceState(null, "", "/portal/callback"); // the code leaves the address bar
    $("#main").append(h("p", { text: "Signed in. You can close this window." }));
    window.close();
  }

  function signInView() {
    const main = h("section", { class: "signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title", text: "Sign in to the merchant portal" }));
    if (settings.oidc) {
      const b = h("button", { type: "button", class: "primary", text: `Sign in with ${settings.oidc.issuer || "your identity provider"}` });
      b.addEventListener("click", () => oidcSignIn(b));
      main.append(h("p", { text: "You sign in with your organisation's account." }), b);
    }
    if (settings.dev_signin) {
      const merchant = h("input", { type: "text", name: "merchant", value: "m_demo", required: true, pattern: "[A-Za-z0-9_\\-]{1,64}", autocomplete: "off" });
      const role = h("select", { name: "role" }, settings.dev_signin.roles.map((r) => h("option", { value: r, text: r, selected: r === "admin" })));
      const sub = h("input", { type: "text", name: "sub", value: "user_dev", required: true, autocomplete: "off" });
      const submit = h("button", { type: "submit", class: "primary", text: "Sign in (development)" });
      const form = h("form", { class: "dev-signin", "aria-labelledby": "dev-title" },
        h("h2", { id: "dev-title" }, h("span", { class: "badge dev", text: "DEVELOPMENT" }), " make dev sign-in"),
        h("p", { class: "warning", text: "This sign-in exists only under make dev: the local gateway mints a token for the merchant and role you pick. A deployment signs in through its OIDC issuer." }),
        field("Merchant ID", merchant), field("Role", role), field("User", sub, "The sub claim, recorded in the audit log."), submit);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        busy(submit, async () => {
          const r = await api("POST", settings.dev_signin.path, { merchant_id: merchant.value, role: role.value, sub: sub.value });
          adopt(r.token);
        });
      });
      main.append(form);
    }
    if (!settings.oidc && !settings.dev_signin) main.append(h("p", { text: "Sign-in is not configured for this deployment." }));
    return main;
  }

  // --- keys ------------------------------------------------------------------
  function statusBadge(st) {
    return h("span", { class: "badge st-" + st, text: st });
  }
  function copyButton(value, label) {
    const b = h("button", { type: "button", class: "link", "aria-label": label, text: "Copy" });
    b.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(value); say(label + ": copied."); }
      catch (e) { say("Copying failed: select the text and copy it by hand."); }
    });
    return b;
  }

  async function keysView() {
    const sec = h("section", { "aria-labelledby": "keys-title" },
      h("div", { class: "heading" }, h("h1", { id: "keys-title", text: "API keys" }),
        can.manage() ? h("a", { class: "button primary", href: "#/create", text: "Create key" }) : null));
    const cols = h("div", { class: "columns" });
    sec.append(cols);
    for (const env of ["test", "live"]) {
      const col = h("section", { class: "env env-" + env, "aria-labelledby": "env-" + env },
        h("h2", { id: "env-" + env }, env === "test" ? "Test keys" : "Live keys"));
      cols.append(col);
      const list = h("div", { class: "keylist" });
      col.append(list);
      let cursor = null;
      const more = h("button", { type: "button", class: "secondary", text: "Show more", hidden: true });
      col.append(more);
      const load = async () => {
        const q = new URLSearchParams({ environment: env, limit: "50" });
        if (cursor) q.set("cursor", cursor);
        const r = await api("GET", "/v1/keys?" + q);
        for (const k of r.data) list.append(keyCard(k));
        if (!list.children.length) list.append(h("p", { class: "empty", text: `No ${env} keys yet.` }));
        cursor = r.next_cursor;
        more.hidden = !cursor;
      };
      more.addEventListener("click", () => busy(more, load));
      await busy(null, load);
    }
    return sec;
  }

  function keyFacts(k) {
    const row = (t, ...v) => [h("dt", { text: t }), h("dd", {}, ...v)];
    return h("dl", { class: "facts" },
      row("Client ID", h("code", { text: k.id }), " ", copyButton(k.id, "Client ID")),
      row("Status", statusBadge(k.status)),
      row("Scopes", k.scopes.length ? k.scopes.join(", ") : "none (no access)"),
      row("IP allowlist", k.allowed_ips.length ? k.allowed_ips.join(", ") : "any address"),
      row("Auth modes", k.auth_modes.join(", ")),
      row("Currency", k.currency),
      row("Expires", k.expires_at ? fmtTime(k.expires_at) : "never"),
      row("Secret", h("code", { text: k.secret_hint }), ` (version ${k.secret_version})`,
        k.previous_secret_expires_at ? ` — the previous secret works until ${fmtTime(k.previous_secret_expires_at)}` : ""),
      row("Last used", k.last_used_at ? fmtTime(k.last_used_at) : "never"));
  }

  function keyCard(k) {
    return h("article", { class: "card", "data-key": k.id },
      h("h3", {}, h("a", { href: "#/keys/" + encodeURIComponent(k.id), text: k.name })),
      keyFacts(k));
  }

  async function keyView(id) {
    const k = await api("GET", "/v1/keys/" + encodeURIComponent(id));
    const sec = h("section", { "aria-labelledby": "key-title", "data-key": k.id },
      h("p", {}, h("a", { href: "#/keys", text: "← All keys" })),
      h("h1", { id: "key-title" }, k.name, " ", h("span", { class: "env-tag", text: k.environment })),
      keyFacts(k));
    const refresh = () => route();
    if (can.manage() && k.status !== "revoked" && k.status !== "expired") {
      const reset = h("button", { type: "button", class: "primary", "data-action": "reset", text: "Reset secret" });
      reset.addEventListener("click", () => resetKey(k, reset));
      const toggle = h("button", {
        type: "button", class: "secondary", "data-action": k.status === "active" ? "disable" : "enable",
        text: k.status === "active" ? "Disable" : "Enable",
      });
      toggle.addEventListener("click", async () => {
        const disable = k.status === "active";
        const ok = await confirmDialog({
          title: disable ? `Disable ${k.name}?` : `Enable ${k.name}?`,
          body: disable ? "Every request with this key is refused from now on, until you enable it again."
            : "Requests with this key are accepted again from now on.",
          action: disable ? "Disable key" : "Enable key", danger: disable,
        });
        if (!ok) return;
        const r = await busy(toggle, () => api("PATCH", "/v1/keys/" + encodeURIComponent(k.id), { status: disable ? "disabled" : "active" }));
        if (r) { say(`${k.name} is ${r.status}.`); refresh(); }
      });
      const revoke = h("button", { type: "button", class: "danger", "data-action": "revoke", text: "Revoke" });
      revoke.addEventListener("click", async () => {
        const ok = await confirmDialog({
          title: `Revoke ${k.name}?`,
          body: ["Revoking is irrevocable: the key stops working at once and for good, and its secret is destroyed.",
            "Anything still using it will be refused."],
          action: "Revoke key", danger: true,
        });
        if (!ok) return;
        const r = await busy(revoke, () => api("DELETE", "/v1/keys/" + encodeURIComponent(k.id)));
        if (r !== undefined) { say(`${k.name} is revoked.`); refresh(); }
      });
      sec.append(h("div", { class: "actions", role: "group", "aria-label": "Key actions" }, reset, toggle, revoke));
    }
    if (can.verify() && k.status !== "revoked") sec.append(verifyForm(k));
    sec.append(await usageChart(k));
    return sec;
  }

  async function resetKey(k, btn) {
    const grace = h("select", { name: "grace" },
      h("option", { value: "0", text: "End the old secret now" }),
      h("option", { value: "3600", text: "Keep it working for 1 hour" }),
      h("option", { value: "86400", text: "Keep it working for 24 hours" }),
      h("option", { value: "604800", text: "Keep it working for 7 days" }));
    const ok = await confirmDialog({
      title: `Reset the secret of ${k.name}?`,
      body: ["A reset is irrevocable: a new secret replaces the current one, and the old one cannot be restored.",
        "Without a grace period, everything using the old secret is refused at once."],
      action: "Reset secret", danger: true,
      extra: field("Grace period for the old secret", grace),
    });
    if (!ok) return;
    const body = { grace_period_seconds: Number(grace.value) };
    const r = await busy(btn, () => api("POST", "/v1/keys/" + encodeURIComponent(k.id) + "/reset", body));
    if (!r) return;
    secretDialog({ title: "Your new secret", what: "secret", secret: take(r, "secret"), after: () => route() });
  }

  function verifyForm(k) {
    const input = h("input", { type: "password", name: "secret", autocomplete: "off", spellcheck: "false", required: true });
    const btn = h("button", { type: "submit", class: "secondary", text: "Verify" });
    const out = h("p", { class: "verdict", role: "status", "aria-live": "polite", "data-verdict": "" });
    const form = h("form", { class: "verify", "aria-labelledby": "verify-title" },
      h("h2", { id: "verify-title", text: "Verify a secret" }),
      field("Secret to check", input, "Paste a secret to see whether it is this key's. 10 tries a minute."),
      btn, out);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      out.textContent = "";
      out.className = "verdict";
      const secret = input.value;
      input.value = "";
      let r;
      try {
        r = await api("POST", "/v1/keys/" + encodeURIComponent(k.id) + "/verify", { secret });
      } catch (err) {
        if (err.status === 429) {
          out.textContent = `Rate limit reached: a key allows 10 checks a minute. Try again in ${err.retryAfter || "a few"} seconds.`;
          out.classList.add("limited");
          out.dataset.verdict = "rate_limited";
          return;
        }
        out.textContent = err.message;
        out.dataset.verdict = "error";
        return;
      }
      if (!r.valid) {
        out.textContent = "Invalid: this is not the key's secret.";
        out.dataset.verdict = "invalid";
        out.classList.add("bad");
      } else if (r.status === "active") {
        out.textContent = "Valid: this is the key's secret, and the key is active.";
        out.dataset.verdict = "valid";
        out.classList.add("good");
      } else {
        out.textContent = `Right secret, but the key is ${r.status}: requests with it are refused.`;
        out.dataset.verdict = r.status;
        out.classList.add("warn");
      }
    });
    return form;
  }

  // usageChart draws allowed and denied requests per day for the last 30
  // days as an inline SVG, with the same numbers in a table.
  async function usageChart(k) {
    const days = 30;
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86400000);
    const d = (x) => x.toISOString().slice(0, 10);
    const sec = h("section", { class: "usage", "aria-labelledby": "usage-title" },
      h("h2", { id: "usage-title", text: "Usage, last 30 days" }));
    let r;
    try {
      r = await api("GET", `/v1/keys/${encodeURIComponent(k.id)}/usage?from=${d(from)}&to=${d(to)}`);
    } catch (e) {
      sec.append(h("p", { text: e.message }));
      return sec;
    }
    const byDay = new Map(r.data.map((u) => [u.date, u]));
    const rows = [];
    for (let i = 0; i < days; i++) {
      const day = d(new Date(from.getTime() + i * 86400000));
      const u = byDay.get(day);
      const denied = u ? Object.values(u.denied || {}).reduce((a, b) => a + b, 0) : 0;
      rows.push({ day, allowed: u ? u.allowed : 0, denied });
    }
    const max = Math.max(1, ...rows.map((x) => Math.max(x.allowed, x.denied)));
    const W = 600, H = 160, pad = 24, bw = (W - pad) / days;
    const total = rows.reduce((a, x) => [a[0] + x.allowed, a[1] + x.denied], [0, 0]);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H + 20}`, class: "chart", role: "img",
      "aria-label": `Allowed and denied requests per day: ${total[0]} allowed and ${total[1]} denied in 30 days.` },
      s("line", { x1: pad, y1: H, x2: W, y2: H, class: "axis" }),
      s("text", { x: 0, y: 10, class: "tick", text: String(max) }),
      s("text", { x: 0, y: H, class: "tick", text: "0" }),
      rows.map((x, i) => {
        const x0 = pad + i * bw;
        const ha = (x.allowed / max) * (H - 12), hd = (x.denied / max) * (H - 12);
        return s("g", {},
          s("title", { text: `${x.day}: ${x.allowed} allowed, ${x.denied} denied` }),
          s("rect", { x: x0 + 1, y: H - ha, width: bw / 2 - 1, height: ha, class: "allowed" }),
          s("rect", { x: x0 + bw / 2, y: H - hd, width: bw / 2 - 1, height: hd, class: "denied" }),
          i % 7 === 0 ? s("text", { x: x0, y: H + 14, class: "tick", text: x.day.slice(5) }) : null);
      }));
    sec.append(h("p", { class: "legend" },
      h("span", { class: "sw allowed" }), " allowed ", h("span", { class: "sw denied" }), " denied"), svg);
    const active = rows.filter((x) => x.allowed || x.denied);
    sec.append(h("details", {}, h("summary", { text: "Show as a table" }),
      active.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { text: "Day" }), h("th", { text: "Allowed" }), h("th", { text: "Denied" }))),
        h("tbody", {}, active.map((x) => h("tr", {}, h("td", { text: x.day }), h("td", { text: x.allowed }), h("td", { text: x.denied })))))
        : h("p", { text: "No requests in the last 30 days." })));
    return sec;
  }

  function createView() {
    if (!can.manage()) return h("p", { text: "Your role may not create keys." });
    const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", autocomplete: "off" });
    const envs = h("fieldset", {}, h("legend", { text: "Environment" }),
      ["test", "live"].map((e) => h("label", { class: "inline" },
        h("input", { type: "radio", name: "environment", value: e, checked: e === "test" }), e === "test" ? " Test" : " Live")));
    const currency = h("select", { name: "currency" }, h("option", { value: "fiat", text: "Fiat" }), h("option", { value: "crypto", text: "Crypto" }));
    const never = h("input", { type: "radio", name: "expiry", value: "never", checked: true });
    const onDate = h("input", { type: "radio", name: "expiry", value: "date" });
    const date = h("input", { type: "date", name: "expires", "aria-label": "Expiry date", disabled: true });
    never.addEventListener("change", () => { date.disabled = true; });
    onDate.addEventListener("change", () => { date.disabled = false; date.focus(); });
    const expiry = h("fieldset", {}, h("legend", { text: "Expiry" }),
      h("label", { class: "inline" }, never, " Never"), h("label", { class: "inline" }, onDate, " On "), date);
    const scopes = h("fieldset", {}, h("legend", { text: "Scopes" }),
      settings.scopes.map((sc) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: "scope", value: sc }), " " + sc)),
      h("p", { class: "hint", text: "A key with no scope can do nothing." }));
    const ips = h("textarea", { name: "allowed_ips", rows: "3", spellcheck: "false" });
    const modes = h("fieldset", {}, h("legend", { text: "Authentication modes" }),
      [["bearer", "Bearer secret"], ["hmac", "HMAC-signed requests"]].map(([m, l]) =>
        h("label", { class: "inline" }, h("input", { type: "checkbox", name: "auth_mode", value: m, checked: true }), " " + l)));
    const submit = h("button", { type: "submit", class: "primary", text: "Create key" });
    const form = h("form", { class: "create", "aria-labelledby": "create-title" },
      h("h1", { id: "create-title", text: "Create a key" }),
      field("Name", name, "What uses it, e.g. checkout backend."), envs, field("Currency", currency),
      expiry, scopes, field("IP allowlist", ips, "One address or CIDR per line; empty allows any address."), modes,
      h("div", { class: "actions" }, h("a", { href: "#/keys", class: "button secondary", text: "Cancel" }), submit));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = {
        name: name.value,
        environment: form.querySelector("input[name=environment]:checked").value,
        currency: currency.value,
        scopes: [...form.querySelectorAll("input[name=scope]:checked")].map((x) => x.value),
        allowed_ips: ips.value.split(/[\s,]+/).filter(Boolean),
        auth_modes: [...form.querySelectorAll("input[name=auth_mode]:checked")].map((x) => x.value),
      };
      if (onDate.checked) {
        if (!date.value) { alertMsg("Choose an expiry date, or Never."); return; }
        body.expires_at = new Date(date.value + "T23:59:59Z").toISOString();
      }
      busy(submit, async () => {
        const r = await api("POST", "/v1/keys", body, { "Idempotency-Key": crypto.randomUUID() });
        say(`Created ${r.key.name}.`);
        secretDialog({ title: "Your new secret", what: "secret", secret: take(r, "secret"),
          after: () => { location.hash = "#/keys/" + r.key.id; } });
      });
    });
    return form;
  }

  // --- webhooks --------------------------------------------------------------
  const EVENTS = ["key.created", "key.updated", "key.reset", "key.revoked", "key.disabled", "key.expiring", "key.expired", "key.rotation_due", "webhook.test"];

  async function webhooksView() {
    const r = await api("GET", "/v1/webhooks");
    const sec = h("section", { "aria-labelledby": "wh-title" }, h("h1", { id: "wh-title", text: "Webhooks" }));
    if (!r.data.length) sec.append(h("p", { class: "empty", text: "No endpoints yet." }));
    else {
      sec.append(h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Endpoint", "Events", "Status", "Description"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, r.data.map((w) => h("tr", { "data-endpoint": w.id },
          h("td", {}, h("a", { href: "#/webhooks/" + encodeURIComponent(w.id), text: w.url })),
          h("td", { text: w.event_types.join(", ") }), h("td", {}, statusBadge(w.status)), h("td", { text: w.description || "" }))))));
    }
    if (can.manage()) sec.append(webhookForm());
    return sec;
  }

  function webhookForm() {
    const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/webhooks", autocomplete: "off" });
    const desc = h("input", { type: "text", name: "description", maxlength: "200", autocomplete: "off" });
    const all = h("input", { type: "checkbox", name: "event", value: "*", checked: true });
    const each = EVENTS.map((e) => h("input", { type: "checkbox", name: "event", value: e, disabled: true }));
    all.addEventListener("change", () => each.forEach((x) => { x.disabled = all.checked; }));
    const submit = h("button", { type: "submit", class: "primary", text: "Add endpoint" });
    const form = h("form", { class: "create", "aria-labelledby": "wh-new" },
      h("h2", { id: "wh-new", text: "Add an endpoint" }),
      field("Endpoint URL", url), field("Description", desc),
      h("fieldset", {}, h("legend", { text: "Event types" }),
        h("label", { class: "inline" }, all, " Every event"),
        each.map((x) => h("label", { class: "inline" }, x, " " + x.value))),
      submit);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const types = all.checked ? ["*"] : each.filter((x) => x.checked).map((x) => x.value);
      if (!types.length) { alertMsg("Choose at least one event type."); return; }
      busy(submit, async () => {
        const body = { url: url.value, event_types: types };
        if (desc.value) body.description = desc.value;
        const r = await api("POST", "/v1/webhooks", body);
        secretDialog({ title: "Your signing secret", what: "signing secret", secret: take(r, "signing_secret"),
          after: () => { location.hash = "#/webhooks/" + r.endpoint.id; } });
      });
    });
    return form;
  }

  async function webhookView(id) {
    const path = "/v1/webhooks/" + encodeURIComponent(id);
    const w = await api("GET", path);
    const row = (t, ...v) => [h("dt", { text: t }), h("dd", {}, ...v)];
    const sec = h("section", { "aria-labelledby": "ep-title", "data-endpoint": w.id },
      h("p", {}, h("a", { href: "#/webhooks", text: "← All endpoints" })),
      h("h1", { id: "ep-title", text: w.url }),
      h("dl", { class: "facts" },
        row("ID", h("code", { text: w.id })),
        row("Status", statusBadge(w.status), w.disabled_reason ? ` (${w.disabled_reason})` : ""),
        row("Events", w.event_types.join(", ")),
        row("Description", w.description || "—"),
        row("Previous secret", w.secret_rotation_ends_at ? `signs beside the new one until ${fmtTime(w.secret_rotation_ends_at)}` : "none")));
    if (can.manage()) {
      const test = h("button", { type: "button", class: "primary", "data-action": "test", text: "Send test event" });
      test.addEventListener("click", async () => {
        const d = await busy(test, () => api("POST", path + "/test"));
        if (d) { say(`Test event ${d.id} queued.`); setTimeout(() => route(), 1500); }
      });
      const rotate = h("button", { type: "button", class: "secondary", "data-action": "rotate", text: "Rotate signing secret" });
      rotate.addEventListener("click", async () => {
        const overlap = h("select", { name: "overlap" },
          h("option", { value: "0", text: "Stop signing with the old secret now" }),
          h("option", { value: "3600", text: "Sign with both for 1 hour" }),
          h("option", { value: "86400", text: "Sign with both for 24 hours", selected: true }),
          h("option", { value: "604800", text: "Sign with both for 7 days" }));
        const ok = await confirmDialog({
          title: "Rotate the signing secret?",
          body: "A new signing secret is made. During the overlap each delivery carries two signatures, so your receiver can switch without missing one.",
          action: "Rotate", extra: field("Overlap", overlap),
        });
        if (!ok) return;
        const r = await busy(rotate, () => api("POST", path + "/rotate-secret", { overlap_seconds: Number(overlap.value) }));
        if (!r) return;
        secretDialog({ title: "Your new signing secret", what: "signing secret", secret: take(r, "signing_secret"), after: () => route() });
      });
      const toggle = h("button", { type: "button", class: "secondary", "data-action": w.status === "enabled" ? "disable" : "enable",
        text: w.status === "enabled" ? "Disable" : "Enable" });
      toggle.addEventListener("click", async () => {
        const disable = w.status === "enabled";
        const ok = await confirmDialog({ title: disable ? "Disable this endpoint?" : "Enable this endpoint?",
          body: disable ? "Nothing is delivered to it until you enable it again." : "Events are delivered to it again.",
          action: disable ? "Disable" : "Enable", danger: disable });
        if (!ok) return;
        const r = await busy(toggle, () => api("PATCH", path, { status: disable ? "disabled" : "enabled" }));
        if (r) route();
      });
      const del = h("button", { type: "button", class: "danger", "data-action": "delete", text: "Delete" });
      del.addEventListener("click", async () => {
        const ok = await confirmDialog({ title: "Delete this endpoint?", body: "It is deleted for good, and its pending retries are cancelled.",
          action: "Delete endpoint", danger: true });
        if (!ok) return;
        const r = await busy(del, () => api("DELETE", path));
        if (r !== undefined) location.hash = "#/webhooks";
      });
      sec.append(h("div", { class: "actions", role: "group", "aria-label": "Endpoint actions" }, test, rotate, toggle, del));
    }
    sec.append(await deliveriesTable(path));
    return sec;
  }

  async function deliveriesTable(path) {
    const r = await api("GET", path + "/deliveries?limit=50");
    const refresh = h("button", { type: "button", class: "secondary", text: "Refresh" });
    refresh.addEventListener("click", () => route());
    const sec = h("section", { "aria-labelledby": "dl-title" },
      h("div", { class: "heading" }, h("h2", { id: "dl-title", text: "Deliveries" }), refresh));
    if (!r.data.length) {
      sec.append(h("p", { class: "empty", text: "Nothing delivered yet." }));
      return sec;
    }
    sec.append(h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Message", "Event", "Status", "Attempts", "Last response", "Next attempt", ""].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, r.data.map((d) => {
        const last = d.attempts && d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
        let retry = null;
        if (can.manage()) {
          retry = h("button", { type: "button", class: "link", "data-action": "retry", "aria-label": "Retry " + d.id, text: "Retry" });
          retry.addEventListener("click", async () => {
            const x = await busy(retry, () => api("POST", `${path}/deliveries/${encodeURIComponent(d.id)}/retry`));
            if (x) { say(`Delivery ${d.id} sent again.`); setTimeout(() => route(), 1500); }
          });
        }
        return h("tr", { "data-delivery": d.id, "data-status": d.status },
          h("td", {}, h("code", { text: d.id })), h("td", { text: d.event_type }), h("td", {}, statusBadge(d.status)),
          h("td", { text: d.attempts ? d.attempts.length : 0 }),
          h("td", { text: last ? (last.response_status ? `HTTP ${last.response_status}` : last.error || "—") + ` in ${last.latency_ms} ms` : "—" }),
          h("td", { text: d.next_attempt_at ? fmtTime(d.next_attempt_at) : "—" }), h("td", {}, retry));
      }))));
    return sec;
  }

  // --- audit -----------------------------------------------------------------
  async function auditView() {
    if (!can.audit()) return h("p", { text: "Your role may not read the audit log." });
    const sec = h("section", { "aria-labelledby": "audit-title" }, h("h1", { id: "audit-title", text: "Audit log" }));
    const body = h("tbody");
    sec.append(h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Object", "Outcome", "Changed", "From"].map((t) => h("th", { scope: "col", text: t })))),
      body));
    const more = h("button", { type: "button", class: "secondary", text: "Show more", hidden: true });
    sec.append(more);
    let cursor = null;
    const load = async () => {
      const q = new URLSearchParams({ limit: "50" });
      if (cursor) q.set("cursor", cursor);
      const r = await api("GET", "/v1/audit?" + q);
      for (const a of r.data) {
        body.append(h("tr", {},
          h("td", { text: fmtTime(a.created_at) }), h("td", { text: `${a.actor} (${a.role})` }), h("td", { text: a.action }),
          h("td", {}, h("code", { text: a.resource_id || "—" })),
          h("td", {}, h("span", { class: "badge out-" + a.outcome, text: a.outcome + (a.count > 1 ? ` ×${a.count}` : "") })),
          h("td", { text: (a.changes || []).join(", ") }), h("td", { text: a.source_ip || "" })));
      }
      cursor = r.next_cursor;
      more.hidden = !cursor;
    };
    more.addEventListener("click", () => busy(more, load));
    await busy(null, load);
    return sec;
  }

  // --- routing -----------------------------------------------------------------
  function renderChrome() {
    const nav = $("#nav");
    nav.replaceChildren();
    const whoEl = $("#who");
    whoEl.replaceChildren();
    if (!token) return;
    const links = [["#/keys", "Keys"], ["#/webhooks", "Webhooks"]];
    if (can.audit()) links.push(["#/audit", "Audit log"]);
    const cur = location.hash.split("/")[1] || "keys";
    nav.append(h("ul", {}, links.map(([href, t]) => h("li", {}, h("a", { href, text: t, "aria-current": href.split("/")[1] === cur ? "page" : null })))));
    const out = h("button", { type: "button", class: "link", text: "Sign out" });
    out.addEventListener("click", () => signOut("You are signed out."));
    whoEl.append(h("span", { text: `${who.sub} · ${who.merchant} · ` }), h("span", { class: "badge role", "data-role": who.role, text: who.role }), " ", out);
  }

  let renderSeq = 0;
  async function route() {
    const seq = ++renderSeq;
    renderChrome();
    const main = $("#main");
    let view;
    if (!token) view = signInView();
    else {
      const [, page, id] = location.hash.split("/").map((x) => decodeURIComponent(x || ""));
      try {
        if (page === "keys" && id) view = await keyView(id);
        else if (page === "create") view = createView();
        else if (page === "webhooks" && id) view = await webhookView(id);
        else if (page === "webhooks") view = await webhooksView();
        else if (page === "audit") view = await auditView();
        else view = await keysView();
      } catch (e) {
        view = h("p", { class: "error", text: e instanceof APIError ? e.message : "Something went wrong: " + e.message });
      }
    }
    if (seq !== renderSeq) return; // a newer navigation won
    main.replaceChildren(view);
    main.dataset.ready = location.hash || "#/";
  }
  const render = route;

  async function start() {
    if (location.pathname === "/portal/callback") { callback(); return; }
    try {
      const res = await fetch("/portal/config.json", { cache: "no-store", credentials: "omit" });
      settings = await res.json();
    } catch (e) {
      alertMsg("The portal could not load its settings. Reload the page to try again.");
    }
    window.addEventListener("hashchange", () => { alertMsg(""); route().then(() => $("#main").focus()); });
    route();
  }
  start();
})();
