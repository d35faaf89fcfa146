/** The CLI's HTTP client for a running relay's API. */

export const DEFAULT_API = "http://127.0.0.1:8787";

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
    api: (args.api ?? Deno.env.get("MCR_API") ?? DEFAULT_API).replace(/\/$/, ""),
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
  let res: Response;
  try {
    res = await fetch(`${o.api}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    throw new ApiUnreachable(`cannot reach the mcr API at ${o.api}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Renders an API error body as lines: message, then each field issue. */
export function describeApiError(body: unknown): string {
  const e = (body as { error?: { message?: string; issues?: { path: string; message: string }[] } })
    ?.error;
  if (!e) return String(body);
  return [e.message ?? "error", ...(e.issues ?? []).map((i) => `  ${i.path}: ${i.message}`)].join(
    "\n",
  );
}

/**
 * One call of a reporting command: the answer's body, or the exit code once
 * the error is printed (`command: HTTP 404: ...`: 1; unreachable: 3).
 */
export async function report(
  command: string,
  o: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ body: unknown } | number> {
  try {
    const res = await callApi(o, method, path, body);
    if (res.status < 400) return { body: res.body };
    const e = (res.body as { error?: { message?: string } })?.error;
    console.error(`${command}: HTTP ${res.status}: ${e?.message ?? "refused"}`);
    return 1;
  } catch (err) {
    console.error(`${command}: ${err instanceof ApiUnreachable ? err.message : String(err)}`);
    return 3;
  }
}
