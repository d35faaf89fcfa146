/**
 * `mcr health`: for cron and monitoring. Prints ONE line and exits with the
 * monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 */
import { z } from "zod";
import { parseCommandArgs } from "./args.ts";
import { ApiUnreachable, callApi, clientOptions } from "./client.ts";
import type { HealthReport } from "../stats/health.ts";

export const EXIT = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;

const USAGE = `usage: mcr health [--api URL] [--stale-ms MS] [--max-loss-pps N] [--timeout-ms MS] [--json]

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (relay unreachable or bad answer).`;

const HealthArgs = z.object({
  api: z.url().optional(),
  "token-file": z.string().optional(),
  "stale-ms": z.coerce.number().int().min(0).max(86_400_000).optional(),
  "max-loss-pps": z.coerce.number().min(0).optional(),
  "timeout-ms": z.coerce.number().int().min(100).max(60_000).default(5000),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

/** One line for the report, e.g. `MCR OK - 2 rules, 1 workers, 49980 pps`. */
export function healthLine(r: HealthReport): string {
  const word = r.status === "ok" ? "OK" : r.status === "warning" ? "WARNING" : "CRITICAL";
  const summary = `${r.rules} rules, ${r.workers} workers, ${r.rx_pps} pps in, ${r.loss_pps.toFixed(1)} loss/s`;
  return `MCR ${word} - ${r.reasons.length ? `${r.reasons.join("; ")} | ` : ""}${summary}`;
}

export async function healthCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return EXIT.OK;
  }
  const parsed = parseCommandArgs("mcr health", argv, {
    api: { type: "string" },
    "token-file": { type: "string" },
    "stale-ms": { type: "string" },
    "max-loss-pps": { type: "string" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  }, HealthArgs);
  if (!parsed.ok) {
    console.log(`MCR UNKNOWN - ${parsed.message}`);
    return EXIT.UNKNOWN;
  }
  const a = parsed.values;
  const query = new URLSearchParams();
  if (a["stale-ms"] !== undefined) query.set("stale_ms", String(a["stale-ms"]));
  if (a["max-loss-pps"] !== undefined) query.set("max_loss_pps", String(a["max-loss-pps"]));
  let res;
  try {
    res = await callApi(clientOptions(a), "GET", `/health${query.size ? `?${query}` : ""}`);
  } catch (err) {
    const msg = err instanceof ApiUnreachable ? err.message : String(err);
    if (a.json) console.log(JSON.stringify({ status: "unknown", reasons: [msg] }));
    else console.log(`MCR UNKNOWN - ${msg}`);
    return EXIT.UNKNOWN;
  }
  const report = res.body as HealthReport;
  if ((res.status !== 200 && res.status !== 503) || typeof report?.status !== "string") {
    const msg = `unexpected answer from the API (HTTP ${res.status})`;
    if (a.json) console.log(JSON.stringify({ status: "unknown", reasons: [msg] }));
    else console.log(`MCR UNKNOWN - ${msg}`);
    return EXIT.UNKNOWN;
  }
  if (a.json) console.log(JSON.stringify(report));
  else console.log(healthLine(report));
  return report.status === "ok" ? EXIT.OK : report.status === "warning" ? EXIT.WARNING : EXIT.CRITICAL;
}
