/**
 * `mcr health`: for cron and monitoring. Prints ONE line and exits with the
 * monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * The line ends with performance data as the monitoring-plugins guidelines
 * define it ('label'=value[UOM];warn;crit;min;max), OK included.
 */
import { z } from "zod";
import { RuleName } from "../config/schema.ts";
import { parseCommandArgs } from "./args.ts";
import { ApiUnreachable, callApi, clientOptions } from "./client.ts";
import type { HealthReport } from "../stats/health.ts";

export const EXIT = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;

export const USAGE = `usage: mcr health [--api URL] [--rule NAME] [--stale-ms MS] [--max-loss-pps N]
                  [-w|--loss-warn PPS] [-c|--loss-crit PPS] [--silent-warn S] [--silent-crit S]
                  [--tx-errors-warn PPS] [--tx-errors-crit PPS] [--timeout-ms MS] [--json]

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (relay unreachable or bad answer).
Thresholds raise the relay's own verdict (never lower it): loss per second
(kernel drops + TX ring full + TX errors), the longest silence of a rule in
seconds, TX errors per second. --rule judges one rule and its interfaces.`;

const threshold = z.coerce.number().min(0).optional();
const HealthArgs = z.object({
  api: z.url().optional(),
  "token-file": z.string().optional(),
  rule: RuleName.optional(),
  "stale-ms": z.coerce.number().int().min(0).max(86_400_000).optional(),
  "max-loss-pps": z.coerce.number().min(0).optional(),
  "loss-warn": threshold,
  "loss-crit": threshold,
  "silent-warn": threshold,
  "silent-crit": threshold,
  "tx-errors-warn": threshold,
  "tx-errors-crit": threshold,
  "timeout-ms": z.coerce.number().int().min(100).max(60_000).default(5000),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

/** Warning and critical thresholds, per measure (absent: none). */
export interface Thresholds {
  loss?: { warn?: number; crit?: number };
  silent?: { warn?: number; crit?: number };
  txErrors?: { warn?: number; crit?: number };
}

/** A number as perfdata writes it: plain decimal, no exponent, at most 3 decimals. */
function num(v: number): string {
  if (!Number.isFinite(v)) return "0";
  return String(Math.round(v * 1000) / 1000).replace(/e.*$/, "");
}

function opt(v: number | undefined): string {
  return v === undefined ? "" : num(v);
}

/** Performance data of a report: 'label'=value[UOM];warn;crit;min;max, space separated. */
export function perfdata(r: HealthReport | null, t: Thresholds = {}): string {
  // null (UNKNOWN: nothing could be measured): every value is the guidelines' "U".
  const v = (x: number | undefined, uom = "") => r === null ? "U" : `${num(x ?? 0)}${uom}`;
  return [
    `'rx_pps'=${v(r?.rx_pps)};;;0`,
    `'loss_pps'=${v(r?.loss_pps)};${opt(t.loss?.warn)};${opt(t.loss?.crit)};0`,
    `'tx_errors_pps'=${v(r?.tx_errors_pps)};${opt(t.txErrors?.warn)};${opt(t.txErrors?.crit)};0`,
    `'silent'=${v(r?.silent_s, "s")};${opt(t.silent?.warn)};${opt(t.silent?.crit)};0`,
    `'rules'=${r === null ? "U" : r.rules};;;0`,
    `'workers'=${r === null ? "U" : r.workers};;;0`,
  ].join(" ");
}

/** The relay's verdict, raised by the thresholds; reasons added for each one crossed. */
export function applyThresholds(r: HealthReport, t: Thresholds): HealthReport {
  const reasons = [...r.reasons];
  let level = r.status === "critical" ? 2 : r.status === "warning" ? 1 : 0;
  const check = (
    what: string,
    value: number,
    th: { warn?: number; crit?: number } | undefined,
    unit: string,
  ) => {
    if (th?.crit !== undefined && value > th.crit) {
      reasons.push(`${what} ${num(value)}${unit} > ${num(th.crit)}${unit}`);
      level = 2;
    } else if (th?.warn !== undefined && value > th.warn) {
      reasons.push(`${what} ${num(value)}${unit} > ${num(th.warn)}${unit}`);
      level = Math.max(level, 1);
    }
  };
  check("loss", r.loss_pps, t.loss, "/s");
  check("longest silence", r.silent_s ?? 0, t.silent, " s");
  check("TX errors", r.tx_errors_pps ?? 0, t.txErrors, "/s");
  const added = reasons.length - r.reasons.length;
  return {
    ...r,
    reasons,
    reasons_total: (r.reasons_total ?? r.reasons.length) + added,
    status: level === 2 ? "critical" : level === 1 ? "warning" : "ok",
  };
}

/** One line, e.g. `MCR OK - 2 rules, 1 workers, 49980 pps in, 0.0 loss/s | 'rx_pps'=49980;;;0 ...`. */
export function healthLine(r: HealthReport, t: Thresholds = {}): string {
  const word = r.status === "ok" ? "OK" : r.status === "warning" ? "WARNING" : "CRITICAL";
  const what = r.rule !== undefined ? `rule ${r.rule}, ` : "";
  const summary = `${what}${r.rules} rules, ${r.workers} workers, ${r.rx_pps} pps in, ${
    r.loss_pps.toFixed(1)
  } loss/s`;
  // The text must not contain "|": it starts the performance data.
  const more = (r.reasons_total ?? r.reasons.length) - r.reasons.length;
  const listed = r.reasons.length
    ? `${r.reasons.join("; ")}; ${more > 0 ? `${more} more; ` : ""}`
    : "";
  const text = `${listed}${summary}`.replaceAll(
    "|",
    "/",
  );
  return `MCR ${word} - ${text} | ${perfdata(r, t)}`;
}

export async function healthCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return EXIT.OK;
  }
  // -w / -c: the monitoring-plugins' usual names, for the loss thresholds.
  const args = argv.map((a) => a === "-w" ? "--loss-warn" : a === "-c" ? "--loss-crit" : a);
  const parsed = parseCommandArgs("mcr health", args, {
    api: { type: "string" },
    "token-file": { type: "string" },
    rule: { type: "string" },
    "stale-ms": { type: "string" },
    "max-loss-pps": { type: "string" },
    "loss-warn": { type: "string" },
    "loss-crit": { type: "string" },
    "silent-warn": { type: "string" },
    "silent-crit": { type: "string" },
    "tx-errors-warn": { type: "string" },
    "tx-errors-crit": { type: "string" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  }, HealthArgs);
  if (!parsed.ok) {
    console.log(`MCR UNKNOWN - ${parsed.message.replaceAll("|", "/")} | ${perfdata(null)}`);
    return EXIT.UNKNOWN;
  }
  const a = parsed.values;
  const thresholds: Thresholds = {
    loss: { warn: a["loss-warn"], crit: a["loss-crit"] },
    silent: { warn: a["silent-warn"], crit: a["silent-crit"] },
    txErrors: { warn: a["tx-errors-warn"], crit: a["tx-errors-crit"] },
  };
  const query = new URLSearchParams();
  if (a["stale-ms"] !== undefined) query.set("stale_ms", String(a["stale-ms"]));
  if (a["max-loss-pps"] !== undefined) query.set("max_loss_pps", String(a["max-loss-pps"]));
  if (a.rule !== undefined) query.set("rule", a.rule);
  const unknown = (msg: string): number => {
    if (a.json) console.log(JSON.stringify({ status: "unknown", reasons: [msg] }));
    else console.log(`MCR UNKNOWN - ${msg.replaceAll("|", "/")} | ${perfdata(null, thresholds)}`);
    return EXIT.UNKNOWN;
  };
  let res;
  try {
    res = await callApi(clientOptions(a), "GET", `/health${query.size ? `?${query}` : ""}`);
  } catch (err) {
    return unknown(err instanceof ApiUnreachable ? err.message : String(err));
  }
  if (res.status === 404 && a.rule !== undefined) return unknown(`no rule named "${a.rule}"`);
  const body = res.body as HealthReport;
  if ((res.status !== 200 && res.status !== 503) || typeof body?.status !== "string") {
    return unknown(`unexpected answer from the API (HTTP ${res.status})`);
  }
  const report = applyThresholds(body, thresholds);
  if (a.json) console.log(JSON.stringify(report));
  else console.log(healthLine(report, thresholds));
  return report.status === "ok"
    ? EXIT.OK
    : report.status === "warning"
    ? EXIT.WARNING
    : EXIT.CRITICAL;
}
