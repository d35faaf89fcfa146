/**
 * Bearer-token rules of the API:
 *  - with a token configured, every mutation (POST/PUT/PATCH/DELETE) needs
 *    `Authorization: Bearer <token>`;
 *  - on a non-loopback listen address, every route needs it except /health;
 *  - the token is never accepted from the query string, and never logged.
 */
import type { MiddlewareHandler } from "hono";

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function bearerGuard(token: string | null, tokenForReads: boolean): MiddlewareHandler {
  return async (c, next) => {
    const needed = token !== null && (MUTATIONS.has(c.req.method) || (tokenForReads && c.req.path !== "/health"));
    if (needed) {
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m || !constantTimeEqual(m[1], token!)) {
        c.header("WWW-Authenticate", 'Bearer realm="mcr"');
        return c.json({ error: { code: "unauthorized", message: "a valid bearer token is required" } }, 401);
      }
    }
    await next();
  };
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
 * Reads the token from the file or environment variable the config names
 * (or MCR_API_TOKEN), never from the command line. Returns null when none.
 */
export function resolveToken(opts: { token_file?: string; token_env?: string }): string | null {
  if (opts.token_file) {
    const stat = Deno.statSync(opts.token_file);
    if (stat.mode !== null && (stat.mode & 0o077) !== 0) {
      throw new Error(`token file ${opts.token_file} is readable by others (chmod 600 ${opts.token_file})`);
    }
    const t = Deno.readTextFileSync(opts.token_file).trim();
    if (t.length < 16) throw new Error(`token in ${opts.token_file} is shorter than 16 characters`);
    return t;
  }
  const name = opts.token_env ?? "MCR_API_TOKEN";
  const t = Deno.env.get(name)?.trim();
  if (t === undefined || t === "") {
    if (opts.token_env) throw new Error(`api.token_env names ${name}, which is not set`);
    return null;
  }
  if (t.length < 16) throw new Error(`token in $${name} is shorter than 16 characters`);
  return t;
}
