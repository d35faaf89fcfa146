/**
 * The status page on a non-loopback listener: a browser signs in with the
 * token once and reads with an HttpOnly, SameSite=Strict session cookie; the
 * cookie never authorises a change; guessing is bounded; sessions end.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import {
  FAILURE_WINDOW_MS,
  MAX_FAILURES,
  MAX_SESSIONS,
  SESSION_IDLE_MS,
  SESSION_MS,
  Sessions,
} from "../../src/api/sessions.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";

const TOKEN = "s3cret-token-0123456789";
const HOST = "192.0.2.10:8787";

function remoteApp() {
  return createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)), {
    token: TOKEN,
    tokenForReads: true,
  }));
}

function req(
  app: ReturnType<typeof createApp>,
  path: string,
  init: RequestInit & { cookie?: string; html?: boolean } = {},
) {
  const headers = new Headers(init.headers);
  headers.set("host", HOST);
  if (init.cookie) headers.set("cookie", init.cookie);
  if (init.html) headers.set("accept", "text/html,application/xhtml+xml");
  return app.request(`http://${HOST}${path}`, { ...init, headers });
}

async function login(app: ReturnType<typeof createApp>, token = TOKEN) {
  return await req(app, "/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: `http://${HOST}` },
    body: new URLSearchParams({ token }).toString(),
  });
}

/** "name=value" of a Set-Cookie header. */
const cookieOf = (r: Response) => r.headers.get("set-cookie")!.split(";")[0];

Deno.test("a browser without a session is sent to /login; an API client gets 401 JSON", async () => {
  const app = remoteApp();
  const page = await req(app, "/", { html: true });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get("location"), "/login");
  const api = await req(app, "/api/v1/stats");
  assert.equal(api.status, 401);
  assert.equal((await api.json()).code, "unauthorized");
  const form = await req(app, "/login", { html: true });
  assert.equal(form.status, 200);
  const html = await form.text();
  assert.match(html, /<form id="login" method="post" action="\/login">/);
  assert.doesNotMatch(html, /<script/i);
  assert.match(form.headers.get("content-security-policy")!, /form-action 'self'/);
});

Deno.test("the right token sets an HttpOnly SameSite=Strict cookie that reads the page, the API and the event stream", async () => {
  const app = remoteApp();
  const wrong = await login(app, "not-the-token-at-all");
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /not this relay's API token/);
  assert.equal(wrong.headers.get("set-cookie"), null);
  const ok = await login(app);
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get("location"), "/");
  const set = ok.headers.get("set-cookie")!;
  assert.match(
    set,
    /^mcr_session_8787=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800$/,
  );
  const cookie = cookieOf(ok);
  assert.equal((await req(app, "/", { html: true, cookie })).status, 200);
  const stats = await req(app, "/api/v1/stats", { cookie });
  assert.equal(stats.status, 200);
  await stats.body?.cancel();
  const events = await req(app, "/api/v1/events", { cookie });
  assert.equal(events.status, 200);
  await events.body?.cancel();
  // Another relay's port on the same host does not take this cookie.
  const other = cookie.replace("mcr_session_8787", "mcr_session_9999");
  assert.equal((await req(app, "/api/v1/stats", { cookie: other })).status, 401);
  // A made-up session id is nothing.
  const made = `mcr_session_8787=${"0".repeat(64)}`;
  assert.equal((await req(app, "/api/v1/stats", { cookie: made })).status, 401);
});

Deno.test("a session cookie never authorises a change; a cross-origin login is refused", async () => {
  const app = remoteApp();
  const cookie = cookieOf(await login(app));
  const add = await req(app, "/api/v1/rules", {
    method: "POST",
    cookie,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...BASE_CONFIG.rules[0], name: "cam9" }),
  });
  assert.equal(add.status, 401, "mutations need the bearer token");
  const level = await req(app, "/api/v1/log-level", {
    method: "PUT",
    cookie,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ level: "debug" }),
  });
  assert.equal(level.status, 401);
  const evil = await req(app, "/login", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "http://evil.example",
    },
    body: new URLSearchParams({ token: TOKEN }).toString(),
  });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get("set-cookie"), null);
});

Deno.test("guessing is bounded: after 10 wrong tokens in a minute even the right one waits (429, Retry-After)", async () => {
  const app = remoteApp();
  for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await login(app, `guess-${i}`)).status, 401);
  const locked = await login(app);
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers.get("retry-after")) > 0);
  assert.equal(locked.headers.get("set-cookie"), null);
});

Deno.test("logout ends the session; the browser is sent to /login again", async () => {
  const app = remoteApp();
  const cookie = cookieOf(await login(app));
  const out = await req(app, "/logout", {
    method: "POST",
    cookie,
    headers: { origin: `http://${HOST}` },
  });
  assert.equal(out.status, 303);
  assert.match(out.headers.get("set-cookie")!, /Max-Age=0/);
  const page = await req(app, "/", { html: true, cookie });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get("location"), "/login");
});

Deno.test("on a loopback listener there are no sessions: /login sends to the page", async () => {
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)), { token: TOKEN }));
  const r = await app.request("http://127.0.0.1:8787/login");
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/");
});

Deno.test("Sessions: idle and absolute expiry, bounded count, failures forgotten after the window", () => {
  let now = 0;
  const s = new Sessions(TOKEN, () => now);
  const a = s.login(TOKEN);
  assert.ok(a.ok);
  now += SESSION_IDLE_MS - 1;
  assert.ok(s.valid(a.id), "used within the idle time");
  now += SESSION_IDLE_MS + 1;
  assert.equal(s.valid(a.id), false, "idle too long");
  const b = s.login(TOKEN);
  assert.ok(b.ok);
  const start = now;
  while (s.valid(b.id) && now - start < 2 * SESSION_MS) now += SESSION_IDLE_MS / 2;
  assert.ok(
    now - start > SESSION_MS && now - start <= SESSION_MS + SESSION_IDLE_MS / 2,
    "8 hours at most, however busy",
  );
  // A flood of logins keeps at most MAX_SESSIONS; the oldest go first.
  const ids: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const r = s.login(TOKEN);
    assert.ok(r.ok);
    ids.push(r.id);
  }
  assert.equal(s.size, MAX_SESSIONS);
  assert.equal(s.valid(ids[0]), false);
  assert.ok(s.valid(ids[ids.length - 1]));
  for (let i = 0; i < MAX_FAILURES; i++) s.login("wrong");
  assert.equal((s.login(TOKEN) as { reason: string }).reason, "too_many_attempts");
  now += FAILURE_WINDOW_MS;
  assert.ok(s.login(TOKEN).ok, "the window passed");
});
