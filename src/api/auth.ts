/**
 * Bearer-token rules of the API:
 *  - with a token configured, every mutation (POST/PUT/PATCH/DELETE) needs
 *    `Authorization: Bearer <token>`;
 *  - on a non-loopback listen address, every route needs it except /health,
 *    /runbooks (documentation the alerts link to) and /login; a browser
 *    signed in at /login (src/api/sessions.ts) reads with its session cookie
 *    instead, and is sent to /login when it has none; a cookie never
 *    authorises a mutation;
 *  - the token is never accepted from the query string, and never logged.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Sessions } from "./sessions.ts";
import { problem, problemResponse } from "./errors.ts";

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Read without the token on any listen address. */
const OPEN_READS = new Set(["/health", "/runbooks", "/login"]);
/** Read without the token: documentation (problem types). */
const OPEN_PREFIX = "/problems/";
/** Posted without the token: they judge the token (or the session) themselves. */
const SESSION_POSTS = new Set(["/login", "/logout"]);

/** A page load by a browser (it takes HTML), not a script or API client. */
function wantsPage(c: Context): boolean {
  return c.req.method === "GET" && (c.req.header("accept") ?? "").includes("text/html");
}

export function bearerGuard(
  token: string | null,
  tokenForReads: boolean,
  sessions: Sessions | null = null,
): MiddlewareHandler {
  return async (c, next) => {
    const read = !MUTATIONS.has(c.req.method);
    const needed = token !== null &&
      !(c.req.method === "POST" && SESSION_POSTS.has(c.req.path)) &&
      (!read ||
        (tokenForReads && !OPEN_READS.has(c.req.path) && !c.req.path.startsWith(OPEN_PREFIX)));
    if (needed) {
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (m && constantTimeEqual(m[1], token!)) return await next();
      if (read && sessions !== null) {
        const host = c.req.header("host") ?? new URL(c.req.url).host;
        if (sessions.valid(cookieValue(c.req.header("cookie"), cookieName(host)))) {
          return await next();
        }
        if (wantsPage(c)) return c.redirect("/login", 303);
      }
      c.header("WWW-Authenticate", 'Bearer realm="mcr"');
      return problemResponse(
        c,
        problem(
          401,
          "unauthorized",
          "a valid bearer token is required (Authorization: Bearer ...)",
        ),
      );
    }
    await next();
  };
}

/** The session cookie's name: per port, so two relays on one host keep their own sessions. */
export function cookieName(host: string): string {
  const port = /:(\d+)$/.exec(host)?.[1] ?? "80";
  return `mcr_session_${port}`;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** True for loopback listen hosts (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Splits "host:port" (IPv6 in brackets). */
export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

/**
 * A token as read from a file or variable: one trailing newline is what
 * editors and `echo` add and is dropped; anything else unusual (spaces,
 * control characters, too short) is refused with the reason, rather than
 * accepted and then never matching a request.
 */
export function checkToken(raw: string, where: string): string {
  const t = raw.endsWith("\r\n") ? raw.slice(0, -2) : raw.endsWith("\n") ? raw.slice(0, -1) : raw;
  if (/\s/.test(t)) {
    throw new Error(
      `token in ${where} contains white space (only one trailing newline is allowed)`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(t)) throw new Error(`token in ${where} contains control characters`);
  if (t.length < 16) throw new Error(`token in ${where} is shorter than 16 characters`);
  return t;
}

/**
 * Reads the token from the file or environment variable the config names
 * (or MCR_API_TOKEN), never from the command line. Returns null when none.
 */
export function resolveToken(opts: { token_file?: string; token_env?: string }): string | null {
  if (opts.token_file) {
    const stat = Deno.statSync(opts.token_file);
    if (stat.mode !== null && (stat.mode & 0o077) !== 0) {
      throw new Error(
        `token file ${opts.token_file} is readable by others (chmod 600 ${opts.token_file})`,
      );
    }
    return checkToken(Deno.readTextFileSync(opts.token_file), opts.token_file);
  }
  const name = opts.token_env ?? "MCR_API_TOKEN";
  const t = Deno.env.get(name);
  if (t === undefined || t === "") {
    if (opts.token_env) throw new Error(`api.token_env names ${name}, which is not set`);
    return null;
  }
  return checkToken(t, `$${name}`);
}

/** The host part of a Host header value ("127.0.0.1:8787" -> "127.0.0.1", "[::1]:80" -> "::1"). */
export function hostOnly(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith("[")) return v.slice(1, v.indexOf("]") > 0 ? v.indexOf("]") : undefined);
  const i = v.indexOf(":");
  return i >= 0 ? v.slice(0, i) : v;
}

export interface HostRules {
  /** The listener is loopback: only loopback names (and `allowed`) may be asked for. */
  loopback: boolean;
  /** Extra host names the API answers to (api.allowed_hosts). */
  allowed: readonly string[];
}

/** Whether a host name may be asked for under these rules (null: no rule applies, any). */
function hostAllowed(host: string, rules: HostRules): boolean | null {
  if (rules.allowed.includes(host)) return true;
  if (rules.loopback) return isLoopbackHost(host);
  return rules.allowed.length > 0 ? false : null;
}

/**
 * DNS rebinding and cross-site requests: a loopback listener answers only
 * requests whose Host is a loopback name or in api.allowed_hosts (else 421:
 * a web page whose name was rebound to 127.0.0.1 sends its own name); a
 * mutation carrying an Origin must come from an allowed host or the same
 * origin (else 403). Requests over the unix socket (c.env.transport "unix")
 * come from local processes with file permissions and skip the Host check.
 */
export function hostGuard(rules: HostRules): MiddlewareHandler {
  return async (c, next) => {
    const env = c.env as { transport?: string } | undefined;
    const hostValue = c.req.header("host") ?? new URL(c.req.url).host;
    if (env?.transport !== "unix") {
      const host = hostOnly(hostValue);
      if (host === "" || hostAllowed(host, rules) === false) {
        return problemResponse(
          c,
          problem(421, "misdirected_host", `this API does not answer to Host "${hostValue}"`),
        );
      }
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && MUTATIONS.has(c.req.method)) {
      let ok = false;
      try {
        const u = new URL(origin);
        const sameOrigin = u.host.toLowerCase() === hostValue.toLowerCase();
        ok = (u.protocol === "http:" || u.protocol === "https:") &&
          (sameOrigin || hostAllowed(hostOnly(u.host), rules) === true);
      } catch { /* "null" or garbage: refused */ }
      if (!ok) {
        return problemResponse(
          c,
          problem(403, "forbidden_origin", `mutations from origin "${origin}" are refused`),
        );
      }
    }
    await next();
  };
}
