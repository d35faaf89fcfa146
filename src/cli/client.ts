/**
 * The CLI's HTTP client for a running relay's API: over TCP
 * (http://host:port) or the API's unix socket (unix:/path). Without --api
 * or MCR_API it uses the conventional socket /run/mcr/api.sock when there
 * is one (as vtysh, birdc and chronyc use theirs), else 127.0.0.1:8787.
 */

import { z } from "zod";

export const DEFAULT_API = "http://127.0.0.1:8787";

/** --api / MCR_API: http(s)://host:port or unix:/path/to/socket. */
export const ApiUrl = z.string().regex(/^(https?:\/\/[^\s/]+\/?|unix:\/\S+)$/, {
  error: "must be http://host:port or unix:/path/to/api.sock",
});
/** The socket the example configuration and unit use (api.unix_socket). */
export const DEFAULT_SOCKET = "/run/mcr/api.sock";

/** The API to use when none is named: the conventional socket if it is one, else TCP. */
export function defaultApi(socket = DEFAULT_SOCKET): string {
  try {
    if (Deno.statSync(socket).isSocket) return `unix:${socket}`;
  } catch { /* none */ }
  return DEFAULT_API;
}

export interface ClientOptions {
  api: string;
  token: string | null;
  timeoutMs: number;
}

/** Resolves --api / MCR_API and the token (MCR_API_TOKEN or --token-file; never a command-line value). */
export function clientOptions(
  args: { api?: string; "token-file"?: string; "timeout-ms"?: number },
): ClientOptions {
  let token = Deno.env.get("MCR_API_TOKEN")?.trim() || null;
  if (args["token-file"]) token = Deno.readTextFileSync(args["token-file"]).trim();
  return {
    api: (args.api ?? Deno.env.get("MCR_API") ?? defaultApi()).replace(/\/$/, ""),
    token,
    timeoutMs: args["timeout-ms"] ?? 5000,
  };
}

export class ApiUnreachable extends Error {}

/** Calls the API; returns status and parsed JSON (or text). Throws ApiUnreachable when it cannot connect. */
export async function callApi(
  o: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  // A change is applied only if its turn comes while this client still waits (RFC 7240 wait).
  if (method !== "GET") headers.prefer = `wait=${Math.max(1, Math.floor(o.timeoutMs / 1000) - 1)}`;
  let res: Response;
  const unix = o.api.startsWith("unix:") ? o.api.slice(5) : null;
  const client = unix === null
    ? undefined
    : Deno.createHttpClient({ proxy: { transport: "unix", path: unix } });
  try {
    res = await fetch(unix === null ? `${o.api}${path}` : `http://localhost${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      client,
    });
  } catch (err) {
    client?.close();
    throw new ApiUnreachable(`cannot reach the mcr API at ${o.api}: ${(err as Error).message}`);
  }
  const text = await res.text();
  client?.close();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/**
 * A failure as scripts read it with --json: the API's own RFC 9457 problem
 * (type, title, status, detail, code, errors) when the relay answered one;
 * the same shape, without `status`, when the CLI failed before an answer
 * (`code` "unreachable", "usage", "failed").
 */
export interface CliProblem {
  type: string;
  title: string;
  status?: number;
  detail: string;
  code: string;
  errors?: { detail: string; pointer?: string; path: string }[];
  [extension: string]: unknown;
}

const LOCAL_TITLES: Record<string, string> = {
  unreachable: "The relay's API could not be reached",
  usage: "The command line is not valid",
  failed: "The command failed",
};

/** A failure of the CLI itself (no answer from the relay) as a problem. */
export function localProblem(code: "unreachable" | "usage" | "failed", detail: string): CliProblem {
  return { type: "about:blank", title: LOCAL_TITLES[code], detail, code };
}

/** The API's answer to a failed request as a problem (any body: an old relay, a proxy's page). */
export function answerProblem(status: number, body: unknown): CliProblem {
  const b = body as Partial<CliProblem> | null;
  if (b && typeof b === "object" && typeof b.detail === "string" && typeof b.code === "string") {
    return { ...b, status } as CliProblem;
  }
  const text = typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body);
  return { type: "about:blank", title: `HTTP ${status}`, status, detail: text, code: "http" };
}

/** The relay refused a request: its problem. */
export class RefusedError extends Error {
  constructor(readonly problem: CliProblem) {
    super(describeProblem(problem));
  }
}

/** The answer's body when its status is `want`; else throws RefusedError with the relay's problem. */
export function expectStatus(res: { status: number; body: unknown }, want: number): unknown {
  if (res.status !== want) throw new RefusedError(answerProblem(res.status, res.body));
  return res.body;
}

/** A problem as lines for people: the detail, then each bad field. */
export function describeProblem(p: CliProblem): string {
  return [p.detail, ...(p.errors ?? []).map((e) => `  ${e.path}: ${e.detail}`)].join("\n");
}

/** Renders an API error body as lines: detail, then each field issue. */
export function describeApiError(body: unknown): string {
  return describeProblem(answerProblem(0, body));
}

/**
 * Tells a failure: with --json one JSON line on stdout (the problem), else
 * `command: ...` on stderr. Returns the exit code: 3 when the relay could not
 * be reached, 1 otherwise.
 */
export function fail(command: string, json: boolean | undefined, p: CliProblem): number {
  if (json) console.log(JSON.stringify(p));
  else {
    const status = p.status !== undefined ? `HTTP ${p.status}: ` : "";
    console.error(`${command}: ${status}${describeProblem(p)}`);
  }
  return p.code === "unreachable" ? 3 : 1;
}

/**
 * One call of a reporting command: the answer's body, or the exit code once
 * the failure is told (refused: 1; unreachable: 3), as a problem with --json.
 */
export async function report(
  command: string,
  o: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
  json?: boolean,
): Promise<{ body: unknown } | number> {
  try {
    const res = await callApi(o, method, path, body);
    if (res.status < 400) return { body: res.body };
    return fail(command, json, answerProblem(res.status, res.body));
  } catch (err) {
    const message = err instanceof ApiUnreachable ? err.message : String(err);
    return fail(
      command,
      json,
      localProblem(err instanceof ApiUnreachable ? "unreachable" : "failed", message),
    );
  }
}
