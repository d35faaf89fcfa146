/** `mcr stats`: live statistics table (refreshed in place), --once, --json. */
import { endpointText } from "../config/schema.ts";
import { z } from "zod";
import type { Rates } from "../stats/rates.ts";
import { residenceQuantileUs } from "../stats/aggregate.ts";
import { RESIDENCE_BUCKETS_US } from "../stats/registry.ts";
import type { RoutingReport, StatsSnapshot } from "../supervisor/control.ts";
import { parseCommandArgs, usageFailure } from "./args.ts";
import {
  answerProblem,
  type ApiUnreachable,
  ApiUrl,
  callApi,
  clientOptions,
  fail,
  localProblem,
} from "./client.ts";

export const USAGE = `usage: mcr stats [--once] [--json] [--interval-ms MS] [--api URL]`;

const StatsArgs = z.object({
  once: z.boolean().optional(),
  json: z.boolean().optional(),
  "interval-ms": z.coerce.number().int().min(100).max(60_000).default(1000),
  api: ApiUrl.optional(),
  "token-file": z.string().optional(),
});

function n(v: number): string {
  return v >= 1e9
    ? `${(v / 1e9).toFixed(2)}G`
    : v >= 1e6
    ? `${(v / 1e6).toFixed(2)}M`
    : v >= 1e4
    ? `${(v / 1e3).toFixed(1)}k`
    : `${Math.round(v)}`;
}

/** One line on the routing protocols in force (null when none is configured). */
export function routingSummary(r: RoutingReport | null): string | null {
  if (r === null) return null;
  const listeners = [...r.igmp.interfaces, ...r.mld.interfaces];
  const parts: string[] = [];
  if (listeners.length > 0) {
    const groups = listeners.reduce((k, i) => k + i.groups.length, 0);
    const querying = listeners.filter((i) => i.is_querier).length;
    parts.push(`IGMP/MLD groups ${groups} on ${listeners.length} links (querier on ${querying})`);
  }
  if (r.pim.interfaces.length > 0) {
    parts.push(
      `PIM neighbours ${r.pim.neighbors.length}, learned routes ${r.pim.routes.length}, DR on ${
        r.pim.interfaces.filter((i) => i.is_dr).length
      }/${r.pim.interfaces.length} links`,
    );
  }
  if (r.msdp.peers.length > 0) {
    parts.push(
      `MSDP ${
        r.msdp.peers.filter((p) => p.state === "established").length
      }/${r.msdp.peers.length} peers up, SA cache ${r.msdp.sa_cache.length}`,
    );
  }
  if (r.waiting.length > 0) parts.push(`${r.waiting.length} waiting`);
  return parts.length > 0 ? `routing: ${parts.join("  |  ")}` : null;
}

/** Renders the stats table (pure, for tests); with the routing state, a line on it and learned outputs marked. */
export function formatStatsTable(
  s: StatsSnapshot & { rates: Rates },
  routing: RoutingReport | null = null,
): string {
  const lines: string[] = [];
  const t = s.totals;
  const r = s.rates.totals;
  const p50 = residenceQuantileUs(t, 0.5);
  const p99 = residenceQuantileUs(t, 0.99);
  const us = (v: number | null) =>
    v === null ? "-" : v === Infinity ? `>${RESIDENCE_BUCKETS_US.at(-1)}` : `<=${v}`;
  lines.push(
    `mcr  up ${s.uptime_s.toFixed(0)} s  workers ${
      s.workers.filter((w) => w.alive).length
    }/${s.workers.length}` +
      `  rx ${n(r.rx_packets ?? 0)} pps  tx ${n(r.tx_sent ?? 0)} pps  residence p50 ${
        us(p50)
      } us  p99 ${us(p99)} us`,
  );
  lines.push(
    `loss: kernel_drops ${t.kernel_drops}  tx_ring_full ${t.tx_ring_full}  tx_errors ${t.tx_errors}` +
      `   drops: no_match ${t.drop_no_match}  malformed ${
        (t.drop_truncated ?? 0) + (t.drop_bad_header ?? 0) + (t.drop_not_ip ?? 0) +
        (t.drop_not_udp ?? 0)
      }  fragment ${t.drop_fragment}`,
  );
  const summary = routingSummary(routing);
  if (summary !== null) lines.push(summary);
  lines.push("");
  lines.push(
    `${"RULE / OUTPUT".padEnd(40)} ${"PACKETS".padStart(12)} ${"PPS".padStart(9)} ${
      "MBIT/S".padStart(8)
    } ${"RING_FULL".padStart(9)} ${"ERRORS".padStart(9)}`,
  );
  for (const rule of s.rules) {
    const rr = s.rates.rules[rule.name];
    lines.push(
      `${`${rule.name} ${endpointText(rule.input)}`.slice(0, 40).padEnd(40)} ` +
        `${String(rule.counters.packets).padStart(12)} ${n(rr?.pps ?? 0).padStart(9)} ${
          ((rr?.bps ?? 0) / 1e6).toFixed(1).padStart(8)
        }`,
    );
    rule.outputs.forEach((o, i) => {
      const ro = rr?.outputs[i];
      const mark = (o as { learned?: string }).learned === "pim"
        ? " (pim)"
        : o.on_demand
        ? " (on demand)"
        : "";
      lines.push(
        `${`  -> ${endpointText(o)}${mark}`.slice(0, 40).padEnd(40)} ${
          String(o.counters.packets).padStart(12)
        } ` +
          `${n(ro?.pps ?? 0).padStart(9)} ${((ro?.bps ?? 0) / 1e6).toFixed(1).padStart(8)} ${
            String(o.counters.ring_full).padStart(9)
          } ${String(o.counters.errors ?? 0).padStart(9)}`,
      );
    });
  }
  return lines.join("\n");
}

export async function statsCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const parsed = parseCommandArgs("mcr stats", argv, {
    once: { type: "boolean" },
    json: { type: "boolean" },
    "interval-ms": { type: "string" },
    api: { type: "string" },
    "token-file": { type: "string" },
  }, StatsArgs);
  if (!parsed.ok) {
    return usageFailure(parsed, USAGE);
  }
  const a = parsed.values;
  const client = clientOptions(a);
  const live = !a.once && !a.json && Deno.stdout.isTerminal();
  for (;;) {
    let res;
    try {
      res = await callApi(client, "GET", "/api/v1/stats");
    } catch (err) {
      return fail(
        "mcr stats",
        a.json,
        localProblem("unreachable", (err as ApiUnreachable).message),
      );
    }
    if (res.status !== 200) return fail("mcr stats", a.json, answerProblem(res.status, res.body));
    const snapshot = res.body as StatsSnapshot & { rates: Rates };
    if (a.json) {
      console.log(JSON.stringify(snapshot));
      return 0;
    }
    // The routing line: only when a routing section is in force (404 otherwise, or an older relay).
    const routing = await callApi(client, "GET", "/api/v1/routing").catch(() => null);
    const r = routing?.status === 200 ? routing.body as RoutingReport : null;
    const table = formatStatsTable(
      snapshot,
      r &&
        (r.igmp.interfaces.length + r.mld.interfaces.length + r.pim.interfaces.length +
            r.msdp.peers.length + r.waiting.length) > 0
        ? r
        : null,
    );
    // ANSI: cursor home + clear screen, so the table refreshes in place.
    if (live) Deno.stdout.writeSync(new TextEncoder().encode(`\x1b[H\x1b[2J${table}\n`));
    else console.log(table);
    if (!live) return 0;
    await new Promise((r) => setTimeout(r, a["interval-ms"]));
  }
}
