/**
 * POST /login, GET /login, POST /logout: the status page's sessions on a
 * non-loopback listener (src/api/sessions.ts). Without sessions (a loopback
 * listener, or no token) they send the browser to the page itself.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { loginHtml } from "../../ui/login.ts";
import { sendPage } from "./pages.ts";
import { cookieName, cookieValue } from "../auth.ts";
import { SESSION_MS, type Sessions } from "../sessions.ts";

const HTML = "text/html; charset=utf-8";

/** The login page (no-store: a token is typed into it). */
function htmlPage(c: Context, body: string, status: 200 | 401 | 429): Response {
  return sendPage(c, body, HTML, status, "no-store");
}

function host(c: Context): string {
  return c.req.header("host") ?? new URL(c.req.url).host;
}

export function loginRoutes(sessions: Sessions | null): Hono {
  const routes = new Hono();
  routes.get(
    "/login",
    (c) => sessions === null ? c.redirect("/", 303) : htmlPage(c, loginHtml(), 200),
  );
  routes.post("/login", async (c) => {
    if (sessions === null) return c.redirect("/", 303);
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const given = typeof form.token === "string" ? form.token : "";
    const r = sessions.login(given);
    if (!r.ok) {
      if (r.reason === "too_many_attempts") {
        c.header("Retry-After", String(r.retryAfterS ?? 60));
        return htmlPage(c, loginHtml(`Too many attempts: try again in ${r.retryAfterS} s.`), 429);
      }
      return htmlPage(c, loginHtml("That is not this relay's API token."), 401);
    }
    c.header(
      "Set-Cookie",
      `${cookieName(host(c))}=${r.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${
        SESSION_MS / 1000
      }`,
    );
    return c.redirect("/", 303);
  });
  routes.post("/logout", (c) => {
    const name = cookieName(host(c));
    sessions?.logout(cookieValue(c.req.header("cookie"), name));
    c.header("Set-Cookie", `${name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return c.redirect(sessions === null ? "/" : "/login", 303);
  });
  return routes;
}
