/**
 * Health: is the relay doing its job? One verdict with reasons, used by
 * GET /health and `mcr health` (which maps it to Nagios exit codes).
 */
import type { InterfaceState, StatsSnapshot } from "./snapshot.ts";
import type { Config } from "../config/schema.ts";
import type { Rates } from "./rates.ts";

export type HealthStatus = "ok" | "warning" | "critical";

export interface HealthOptions {
  /** Overrides every rule's stale_after_ms. */
  staleMs?: number;
  /** Loss (kernel drops + TX ring full + TX errors) per second above which the status is a warning. */
  maxLossPps?: number;
  /** A worker whose loop has not turned for this long is stuck. */
  heartbeatMs?: number;
}

export interface HealthReport {
  status: HealthStatus;
  reasons: string[];
  rules: number;
  workers: number;
  rx_pps: number;
  loss_pps: number;
}

export const DEFAULT_STALE_MS = 5000;

export function evaluateHealth(
  snapshot: StatsSnapshot,
  interfaces: InterfaceState[],
  config: Config,
  rates: Rates,
  options: HealthOptions = {},
): HealthReport {
  const critical: string[] = [];
  const warning: string[] = [];
  const heartbeatMs = options.heartbeatMs ?? 2000;
  for (const w of snapshot.workers) {
    if (!w.alive) critical.push(`worker ${w.id} is not running`);
    else if (w.heartbeat_age_ms > heartbeatMs) {
      critical.push(`worker ${w.id} made no progress for ${(w.heartbeat_age_ms / 1000).toFixed(1)} s`);
    }
  }
  for (const i of interfaces) {
    if (!i.present) critical.push(`interface ${i.name} is absent`);
    else if (!i.up) critical.push(`interface ${i.name} is down`);
  }
  for (const r of snapshot.rules) {
    const rule = config.rules.find((x) => x.name === r.name);
    if (!r.active) {
      critical.push(`rule ${r.name} is waiting for its interfaces`);
      continue;
    }
    const stale = options.staleMs ?? rule?.stale_after_ms ?? DEFAULT_STALE_MS;
    if (r.silent_ms > stale) critical.push(`rule ${r.name} silent for ${(r.silent_ms / 1000).toFixed(1)} s`);
  }
  const t = rates.totals;
  const lossPps = (t.kernel_drops ?? 0) + (t.tx_ring_full ?? 0) + (t.tx_errors ?? 0);
  if (lossPps > (options.maxLossPps ?? 0)) {
    warning.push(
      `loss ${lossPps.toFixed(1)} pkt/s (kernel_drops ${(t.kernel_drops ?? 0).toFixed(1)}, ` +
        `tx_ring_full ${(t.tx_ring_full ?? 0).toFixed(1)}, tx_errors ${(t.tx_errors ?? 0).toFixed(1)})`,
    );
  }
  const status: HealthStatus = critical.length > 0 ? "critical" : warning.length > 0 ? "warning" : "ok";
  return {
    status,
    reasons: [...critical, ...warning],
    rules: snapshot.rules.length,
    workers: snapshot.workers.length,
    rx_pps: Math.round(t.rx_packets ?? 0),
    loss_pps: lossPps,
  };
}
