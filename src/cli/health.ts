/**
 * `mcr health`: for cron and monitoring. Prints ONE line and exits with the
 * monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * The line ends with performance data as the monitoring-plugins guidelines
 * define it ('label'=value[UOM];warn;crit;min;max), OK included.
 */
import { z } from "zod";
import { RuleName } from "../config/schema.ts";
import { parseCommandArgs } from "./args.ts";
import { ApiUnreachable, ApiUrl, callApi, clientOptions } from "./client.ts";
import type { HealthReport } from "../stats/health.ts";
import { buildInfo } from "../version.ts";

export const EXIT = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;

export const USAGE = `usage: mcr health [--api URL] [--rule NAME] [--stale-ms MS] [--max-loss-pps N]
                  [-w|--loss-warn RANGE] [-c|--loss-crit RANGE] [--silent-warn RANGE]
                  [--silent-crit RANGE] [--tx-errors-warn RANGE] [--tx-errors-crit RANGE]
                  [-t|--timeout S | --timeout-ms MS] [-v|--verbose] [-V|--version] [--json]

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (relay unreachable or bad answer).
Thresholds raise the relay's own verdict (never lower it): loss per second
(kernel drops + TX ring full + TX errors), the longest silence of a rule in
seconds, TX errors per second. A RANGE is the monitoring-plugins' one: "10"
alerts above 10, "10:20" outside 10..20, "10:" below 10, "~:20" above 20,
"@10:20" inside 10..20. --rule judges one rule and its interfaces; -v lists
every reason on a line of its own after the status line.`;

/** A monitoring-plugins threshold range: alert outside [start, end] (inside with "@"). */
export interface Range {
  start: number;
  end: number;
  inside: boolean;
  /** As given (perfdata repeats it). */
  text: string;
}

/** Parses "10", "10:20", "10:", "~:20", "@10:20" (the monitoring-plugins range format). */
export function parseRange(text: string): Range {
  const t = text.trim();
  const inside = t.startsWith("@");
  const body = inside ? t.slice(1) : t;
  const number = (v: string, what: string): number => {
    if (!/^-?\d+(\.\d+)?$/.test(v)) {
      throw new Error(`threshold "${text}": ${what} "${v}" is not a number`);
    }
    return Number(v);
  };
  const colon = body.indexOf(":");
  const start = colon < 0
    ? 0
    : body.slice(0, colon) === "~"
    ? -Infinity
    : body.slice(0, colon) === ""
    ? 0
    : number(body.slice(0, colon), "start");
  const endText = colon < 0 ? body : body.slice(colon + 1);
  const end = endText === "" && colon >= 0 ? Infinity : number(endText, "end");
  if (start > end) throw new Error(`threshold "${text}": start ${start} is above end ${end}`);
  return { start, end, inside, text: t };
}

/** Whether `value` raises the alert of range `r`. */
export function rangeAlerts(r: Range, value: number): boolean {
  const within = value >= r.start && value <= r.end;
  return r.inside ? within : !within;
}

function toRange(t: number | string | undefined): Range | undefined {
  return t === undefined ? undefined : parseRange(String(t));
}

const threshold = z.string().refine((t) => {
  try {
    parseRange(t);
    return true;
  } catch {
    return false;
  }
}, { message: 'a threshold range: "10", "10:20", "10:", "~:20" or "@10:20"' }).optional();
const HealthArgs = z.object({
  api: ApiUrl.optional(),
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
  timeout: z.coerce.number().min(0.1).max(60).optional(),
  verbose: z.boolean().optional(),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

/** Warning and critical thresholds per measure (absent: none): a number N is the range "N". */
type Threshold = { warn?: number | string; crit?: number | string };
export interface Thresholds {
  loss?: Threshold;
  silent?: Threshold;
  txErrors?: Threshold;
}

/** A number as perfdata writes it: plain decimal, no exponent, at most 3 decimals. */
function num(v: number): string {
  if (!Number.isFinite(v)) return "0";
  return String(Math.round(v * 1000) / 1000).replace(/e.*$/, "");
}

function opt(v: number | string | undefined): string {
  return v === undefined ? "" : typeof v === "number" ? num(v) : parseRange(v).text;
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
  const check = (what: string, value: number, th: Threshold | undefined, unit: string) => {
    const say = (r: Range) =>
      !r.inside && r.start === 0 && Number.isFinite(r.end)
        ? `${what} ${num(value)}${unit} > ${num(r.end)}${unit}`
        : `${what} ${num(value)}${unit} ${r.inside ? "inside" : "outside"} ${r.text}`;
    const crit = toRange(th?.crit);
    const warn = toRange(th?.warn);
    if (crit && rangeAlerts(crit, value)) {
      reasons.push(say(crit));
      level = 2;
    } else if (warn && rangeAlerts(warn, value)) {
      reasons.push(say(warn));
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
  if (argv.includes("--version") || argv.includes("-V")) {
    console.log(`mcr health ${(await buildInfo()).version}`);
    return EXIT.OK;
  }
  // The monitoring-plugins' usual short options: -w / -c (loss), -t (timeout, s), -v.
  const short: Record<string, string> = {
    "-w": "--loss-warn",
    "-c": "--loss-crit",
    "-t": "--timeout",
    "-v": "--verbose",
  };
  const args = argv.map((a) => /^-v+$/.test(a) ? "--verbose" : short[a] ?? a);
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
    timeout: { type: "string" },
    verbose: { type: "boolean" },
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
    const timeoutMs = a.timeout !== undefined ? Math.round(a.timeout * 1000) : a["timeout-ms"];
    res = await callApi(
      clientOptions({ ...a, "timeout-ms": timeoutMs }),
      "GET",
      `/health${query.size ? `?${query}` : ""}`,
    );
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
  else {
    console.log(healthLine(report, thresholds));
    // -v: every reason on a line of its own, after the status line.
    if (a.verbose) { for (const reason of report.reasons) console.log(reason); }
  }
  return report.status === "ok"
    ? EXIT.OK
    : report.status === "warning"
    ? EXIT.WARNING
    : EXIT.CRITICAL;
}
