/**
 * Small commands against a running relay's API: `mcr workers`,
 * `mcr log-level [LEVEL]`, `mcr config show`, `mcr routing [SECTION]`. Each takes --api URL,
 * --token-file FILE and --json.
 */
import { z } from "zod";
import { stringify } from "yaml";
import { parseRemote, RemoteArgs } from "./args.ts";
import { clientOptions, report } from "./client.ts";
import type { RoutingReport } from "../supervisor/control.ts";

export const WORKERS_USAGE = "usage: mcr workers [--api URL] [--token-file FILE] [--json]";
export const LOG_LEVEL_USAGE =
  "usage: mcr log-level [debug|info|warn|error] [--api URL] [--token-file FILE] [--json]";
export const ROUTING_USAGE =
  "usage: mcr routing [groups|neighbors|routes|msdp] [--api URL] [--token-file FILE] [--json]\n" +
  "  groups: IGMP groups per interface; neighbors: PIM neighbours and DRs; routes: PIM learned routes\n" +
  "  and the outputs they added; msdp: MSDP peers and SA cache. No section: all of them.";
export const CONFIG_SHOW_USAGE = "usage: mcr config show [--api URL] [--token-file FILE] [--json]";

/** A command's exit code once its error is printed (1: refused, 3: unreachable). */
class Exit {
  constructor(readonly code: number) {}
}

/** Calls the API; the answer's body, or Exit when it refused or could not be reached (printed). */
async function call(
  command: string,
  a: z.infer<typeof RemoteArgs>,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const r = await report(command, clientOptions(a), method, path, body, a.json);
  return typeof r === "number" ? new Exit(r) : r.body;
}

export async function workersCommand(argv: string[]): Promise<number> {
  const usage = WORKERS_USAGE;
  const p = parseRemote("mcr workers", argv, usage);
  if (typeof p === "number") return p;
  const body = await call("mcr workers", p.values, "GET", "/api/v1/workers") as
    | {
      id: number;
      alive: boolean;
      restarts: number;
      heartbeat_age_ms: number;
      counters: Record<string, number>;
    }[]
    | Exit;
  if (body instanceof Exit) return body.code;
  if (p.values.json) console.log(JSON.stringify(body));
  else {
    console.log("worker  alive  restarts  heartbeat_age_ms  rx_packets  tx_sent");
    for (const w of body) {
      console.log(
        `${String(w.id).padEnd(8)}${String(w.alive).padEnd(7)}${String(w.restarts).padEnd(10)}` +
          `${String(Math.round(w.heartbeat_age_ms)).padEnd(18)}${
            String(w.counters.rx_packets ?? 0).padEnd(12)
          }${w.counters.tx_sent ?? 0}`,
      );
    }
  }
  return 0;
}

export async function logLevelCommand(argv: string[]): Promise<number> {
  const usage = LOG_LEVEL_USAGE;
  const p = parseRemote("mcr log-level", argv, usage);
  if (typeof p === "number") return p;
  const [level, ...extra] = p.positionals;
  if (
    extra.length > 0 || (level !== undefined && !["debug", "info", "warn", "error"].includes(level))
  ) {
    console.error(`mcr log-level: the level is one of debug, info, warn, error\n${usage}`);
    return 1;
  }
  const body = await call(
    "mcr log-level",
    p.values,
    level ? "PUT" : "GET",
    "/api/v1/log-level",
    level ? { level } : undefined,
  ) as
    | { level: string }
    | Exit;
  if (body instanceof Exit) return body.code;
  console.log(p.values.json ? JSON.stringify(body) : body.level);
  return 0;
}

/** `mcr config show`: the configuration in force, as YAML (or --json). */
export async function configShow(argv: string[]): Promise<number> {
  const usage = CONFIG_SHOW_USAGE;
  const p = parseRemote("mcr config show", argv, usage);
  if (typeof p === "number") return p;
  const body = await call("mcr config show", p.values, "GET", "/api/v1/config");
  if (body instanceof Exit) return body.code;
  console.log(p.values.json ? JSON.stringify(body) : stringify(body).trimEnd());
  return 0;
}

const ROUTING_SECTIONS = ["groups", "neighbors", "routes", "msdp"] as const;
type RoutingSection = typeof ROUTING_SECTIONS[number];

/** The routing state as text tables (pure, for tests). */
export function formatRouting(
  r: RoutingReport,
  sections: readonly RoutingSection[] = ROUTING_SECTIONS,
): string {
  const lines: string[] = [];
  const row = (cells: (string | number)[], widths: number[]) =>
    cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(" ").trimEnd();
  const ms = (v: number | null) =>
    v === null ? "never" : v < 0 ? "never" : `${(v / 1000).toFixed(1)}s`;
  if (sections.includes("groups")) {
    lines.push("IGMP / MLD");
    const w = [16, 26, 26, 8, 9, 16];
    lines.push(row(["INTERFACE", "QUERIER", "GROUP", "MODE", "EXPIRES", "REPORTER"], w));
    for (const i of [...r.igmp.interfaces, ...r.mld.interfaces]) {
      const querier = i.is_querier ? `${i.querier} (us)` : i.querier;
      if (i.groups.length === 0) lines.push(row([i.interface, querier, "-"], w));
      for (const g of i.groups) {
        lines.push(
          row([i.interface, querier, g.group, g.mode, ms(g.expires_ms), g.last_reporter], w),
        );
      }
    }
    lines.push("");
  }
  if (sections.includes("neighbors")) {
    lines.push("PIM");
    const w = [16, 16, 16, 9, 9, 9];
    lines.push(row(["INTERFACE", "NEIGHBOR", "DR", "PRIORITY", "UPTIME", "EXPIRES"], w));
    for (const i of r.pim.interfaces) {
      const dr = i.is_dr ? `${i.dr} (us)` : String(i.dr);
      const ns = r.pim.neighbors.filter((n) => n.interface === i.interface);
      if (ns.length === 0) lines.push(row([i.interface, "-", dr], w));
      for (const n of ns) {
        lines.push(
          row([i.interface, n.address, dr, n.dr_priority ?? "-", ms(n.up_ms), ms(n.expires_ms)], w),
        );
      }
    }
    lines.push("");
  }
  if (sections.includes("routes")) {
    lines.push("PIM learned routes");
    const w = [16, 16, 16, 16, 9];
    lines.push(row(["INTERFACE", "SOURCE", "GROUP", "NEIGHBOR", "EXPIRES"], w));
    for (const x of r.pim.routes) {
      lines.push(
        row([
          x.interface,
          x.source,
          x.group,
          x.neighbor,
          x.prune_pending ? "pruning" : ms(x.expires_ms),
        ], w),
      );
    }
    for (const o of r.learned_outputs) {
      lines.push(
        `  output added to rule ${o.rule}: ${o.interface} ${o.group}${
          o.port ? `:${o.port}` : ""
        } (for ${o.source})`,
      );
    }
    if (r.learned_refused > 0) {
      lines.push(
        `  ${r.learned_refused} outputs asked for and left out (pim.max_learned_routes, or they would feed an input back)`,
      );
    }
    lines.push("");
  }
  if (sections.includes("msdp")) {
    lines.push("MSDP");
    const w = [16, 16, 12, 8, 9];
    lines.push(row(["PEER", "LOCAL", "STATE", "SAS", "UPTIME"], w));
    for (const p of r.msdp.peers) {
      lines.push(
        row([
          String(p.peer),
          String(p.local),
          String(p.state),
          Number(p.sa_count),
          ms(Number(p.up_ms)),
        ], w),
      );
    }
    if (r.msdp.sa_cache.length > 0) {
      lines.push(row(["SOURCE", "GROUP", "RP", "PEER", "EXPIRES"], [16, 16, 16, 16, 9]));
      for (const e of r.msdp.sa_cache) {
        lines.push(row([e.source, e.group, e.rp, e.peer, ms(e.expires_ms)], [16, 16, 16, 16, 9]));
      }
    }
    lines.push("");
  }
  for (const wt of r.waiting) {
    lines.push(`waiting: ${wt.protocol} on ${wt.interface}: ${wt.reason}`);
  }
  return lines.join("\n").trimEnd();
}

export async function routingCommand(argv: string[]): Promise<number> {
  const p = parseRemote("mcr routing", argv, ROUTING_USAGE);
  if (typeof p === "number") return p;
  const wanted = p.positionals as RoutingSection[];
  const bad = wanted.find((w) => !ROUTING_SECTIONS.includes(w));
  if (bad !== undefined) {
    return (console.error(`mcr routing: unknown section "${bad}"\n${ROUTING_USAGE}`), 1);
  }
  const body = await call("mcr routing", p.values, "GET", "/api/v1/routing") as
    | RoutingReport
    | Exit;
  if (body instanceof Exit) return body.code;
  if (p.values.json) console.log(JSON.stringify(body));
  else console.log(formatRouting(body, wanted.length > 0 ? wanted : ROUTING_SECTIONS));
  return 0;
}
