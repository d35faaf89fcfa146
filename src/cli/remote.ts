/**
 * Small commands against a running relay's API: `mcr workers`,
 * `mcr log-level [LEVEL]`, `mcr config show`. Each takes --api URL,
 * --token-file FILE and --json.
 */
import { z } from "zod";
import { stringify } from "yaml";
import { parseCommandArgs } from "./args.ts";
import { ApiUnreachable, callApi, clientOptions } from "./client.ts";

const Common = z.object({
  api: z.url().optional(),
  "token-file": z.string().optional(),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});
const OPTIONS = {
  api: { type: "string" as const },
  "token-file": { type: "string" as const },
  json: { type: "boolean" as const },
  help: { type: "boolean" as const, short: "h" },
};

export const WORKERS_USAGE = "usage: mcr workers [--api URL] [--token-file FILE] [--json]";
export const LOG_LEVEL_USAGE = "usage: mcr log-level [debug|info|warn|error] [--api URL] [--token-file FILE] [--json]";
export const CONFIG_SHOW_USAGE = "usage: mcr config show [--api URL] [--token-file FILE] [--json]";

/** Calls the API; prints the error and returns null when it cannot be reached or refuses. */
async function call(command: string, a: z.infer<typeof Common>, method: string, path: string, body?: unknown) {
  try {
    const res = await callApi(clientOptions(a), method, path, body);
    if (res.status >= 400) {
      const e = (res.body as { error?: { message?: string } })?.error;
      console.error(`${command}: HTTP ${res.status}: ${e?.message ?? "refused"}`);
      return null;
    }
    return res.body;
  } catch (err) {
    console.error(`${command}: ${err instanceof ApiUnreachable ? err.message : String(err)}`);
    return null;
  }
}

export async function workersCommand(argv: string[]): Promise<number> {
  const usage = WORKERS_USAGE;
  const p = parseCommandArgs("mcr workers", argv, OPTIONS, Common);
  if (!p.ok) return (console.error(`${p.message}\n${usage}`), 1);
  if (p.values.help) return (console.log(usage), 0);
  const body = await call("mcr workers", p.values, "GET", "/api/v1/workers") as
    | { id: number; alive: boolean; restarts: number; heartbeat_age_ms: number; counters: Record<string, number> }[]
    | null;
  if (body === null) return 1;
  if (p.values.json) console.log(JSON.stringify(body));
  else {
    console.log("worker  alive  restarts  heartbeat_age_ms  rx_packets  tx_sent");
    for (const w of body) {
      console.log(
        `${String(w.id).padEnd(8)}${String(w.alive).padEnd(7)}${String(w.restarts).padEnd(10)}` +
          `${String(w.heartbeat_age_ms).padEnd(18)}${String(w.counters.rx_packets ?? 0).padEnd(12)}${w.counters.tx_sent ?? 0}`,
      );
    }
  }
  return 0;
}

export async function logLevelCommand(argv: string[]): Promise<number> {
  const usage = LOG_LEVEL_USAGE;
  const p = parseCommandArgs("mcr log-level", argv, OPTIONS, Common, true);
  if (!p.ok) return (console.error(`${p.message}\n${usage}`), 1);
  if (p.values.help) return (console.log(usage), 0);
  const [level, ...extra] = p.positionals;
  if (extra.length > 0 || (level !== undefined && !["debug", "info", "warn", "error"].includes(level))) {
    console.error(`mcr log-level: the level is one of debug, info, warn, error\n${usage}`);
    return 1;
  }
  const body = await call("mcr log-level", p.values, level ? "PUT" : "GET", "/api/v1/log-level", level ? { level } : undefined) as
    | { level: string }
    | null;
  if (body === null) return 1;
  console.log(p.values.json ? JSON.stringify(body) : body.level);
  return 0;
}

/** `mcr config show`: the configuration in force, as YAML (or --json). */
export async function configShow(argv: string[]): Promise<number> {
  const usage = CONFIG_SHOW_USAGE;
  const p = parseCommandArgs("mcr config show", argv, OPTIONS, Common);
  if (!p.ok) return (console.error(`${p.message}\n${usage}`), 1);
  if (p.values.help) return (console.log(usage), 0);
  const body = await call("mcr config show", p.values, "GET", "/api/v1/config");
  if (body === null) return 1;
  console.log(p.values.json ? JSON.stringify(body) : stringify(body).trimEnd());
  return 0;
}
