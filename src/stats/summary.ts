/**
 * Counter summaries: a compact record the relay logs (one JSON line) when it
 * stops and on SIGUSR2, and the same as text for people (the demo).
 */
import { endpointText } from "../config/schema.ts";
import type { StatsSnapshot } from "./snapshot.ts";
import { DROP_REASONS } from "./registry.ts";

const TOTAL_KEYS = [
  "rx_packets",
  "matched",
  "tx_sent",
  "tx_bytes",
  "tx_ring_full",
  "tx_errors",
  "kernel_packets",
  "kernel_drops",
  "kernel_freezes",
] as const;

/** Renders totals, drops by reason, and per-rule/per-output counters as lines of text. */
export function formatFinalCounters(s: StatsSnapshot): string {
  const lines: string[] = [];
  lines.push(`[mcr stats] uptime=${s.uptime_s.toFixed(1)}s workers=${s.workers.length}`);
  lines.push(`  total: ${TOTAL_KEYS.map((k) => `${k}=${s.totals[k] ?? 0}`).join(" ")}`);
  lines.push(
    `  drops: ${DROP_REASONS.map((d) => `${d.name}=${s.totals[`drop_${d.name}`] ?? 0}`).join(" ")}`,
  );
  for (const r of s.rules) {
    const i = r.input;
    lines.push(
      `  rule ${r.name} (${endpointText(i)}${i.source ? ` from ${i.source}` : ""}): ` +
        `packets=${r.counters.packets} bytes=${r.counters.bytes}`,
    );
    for (const o of r.outputs) {
      const c = o.counters;
      lines.push(
        `    -> ${endpointText(o)} packets=${c.packets} bytes=${c.bytes} ` +
          `ring_full=${c.ring_full} too_big=${c.too_big} errors=${c.errors}`,
      );
    }
  }
  for (const w of s.workers) {
    const c = w.counters;
    lines.push(
      `  worker ${w.id}: alive=${w.alive} restarts=${w.restarts} rx=${c.rx_packets} tx=${c.tx_sent} ` +
        `kernel_drops=${c.kernel_drops} tx_ring_full=${c.tx_ring_full}`,
    );
  }
  return lines.join("\n");
}

/** The counters as one log record: totals, drops by reason, per rule and output, per worker. */
export function countersRecord(s: StatsSnapshot): Record<string, unknown> {
  return {
    uptime_s: Math.round(s.uptime_s * 10) / 10,
    totals: Object.fromEntries(TOTAL_KEYS.map((k) => [k, s.totals[k] ?? 0])),
    drops: Object.fromEntries(DROP_REASONS.map((d) => [d.name, s.totals[`drop_${d.name}`] ?? 0])),
    rules: s.rules.map((r) => ({
      name: r.name,
      packets: r.counters.packets,
      bytes: r.counters.bytes,
      outputs: r.outputs.map((o) => ({ to: endpointText(o), ...o.counters })),
    })),
    workers: s.workers.map((w) => ({
      id: w.id,
      alive: w.alive,
      restarts: w.restarts,
      rx_packets: w.counters.rx_packets,
      tx_sent: w.counters.tx_sent,
    })),
  };
}
