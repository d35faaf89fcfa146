/**
 * Health: is the relay doing its job? One verdict with reasons, used by
 * GET /health and `mcr health` (which maps it to Nagios exit codes).
 */
import type { InterfaceState, StatsSnapshot } from "./snapshot.ts";
import { type Config, ruleInputs } from "../config/schema.ts";
import type { Rates } from "./rates.ts";
import type { StreamReport } from "../streams/readout.ts";
import type { MergeReport } from "../merge/merge_readout.ts";

export type HealthStatus = "ok" | "warning" | "critical";

export interface HealthOptions {
  /** Overrides every rule's stale_after_ms. */
  staleMs?: number;
  /** Loss (kernel drops + TX ring full + TX errors) per second above which the status is a warning. */
  maxLossPps?: number;
  /** A worker whose loop has not turned for this long is stuck. */
  heartbeatMs?: number;
  /** Judge one rule (and the interfaces it uses) instead of all of them. */
  rule?: string;
}

export interface HealthReport {
  status: HealthStatus;
  /** The first MAX_REASONS reasons, the critical ones first (the body stays small at 10,000 rules). */
  reasons: string[];
  /** How many reasons there were in all (more than `reasons` holds when over MAX_REASONS). */
  reasons_total: number;
  rules: number;
  workers: number;
  rx_pps: number;
  loss_pps: number;
  /** TX errors per second (kicks the kernel refused, routed datagrams refused). */
  tx_errors_pps: number;
  /** The longest silence (s) of the rules judged (0 without active rules). */
  silent_s: number;
  /** The rule judged, when one was asked for. */
  rule?: string;
}

/** Thrown for a rule name that is not in the configuration (HTTP 404). */
export class UnknownRuleError extends Error {
  override name = "UnknownRuleError";
  constructor(readonly rule: string) {
    super(`no rule named "${rule}"`);
  }
}

export const DEFAULT_STALE_MS = 5000;

/** At most this many reasons are listed; `reasons_total` counts them all. */
export const MAX_REASONS = 20;

export function evaluateHealth(
  snapshot: StatsSnapshot,
  interfaces: InterfaceState[],
  config: Config,
  rates: Rates,
  options: HealthOptions = {},
  streams: readonly StreamReport[] = [],
  merges: readonly MergeReport[] = [],
): HealthReport {
  const critical: string[] = [];
  const warning: string[] = [];
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const judged = options.rule === undefined
    ? snapshot.rules
    : snapshot.rules.filter((r) => r.name === options.rule);
  const ruleConfig = options.rule === undefined
    ? undefined
    : config.rules.find((r) => r.name === options.rule);
  if (options.rule !== undefined && (judged.length === 0 || ruleConfig === undefined)) {
    throw new UnknownRuleError(options.rule);
  }
  // One rule: only the interfaces it uses.
  const used = ruleConfig === undefined ? null : new Set([
    ...ruleInputs(ruleConfig).map((i) => i.interface),
    ...ruleConfig.outputs.flatMap((o) => o.interface === undefined ? [] : [o.interface]),
  ]);
  for (const w of snapshot.workers) {
    if (!w.alive) critical.push(`worker ${w.id} is not running`);
    else if (w.heartbeat_age_ms > heartbeatMs) {
      critical.push(
        `worker ${w.id} made no progress for ${(w.heartbeat_age_ms / 1000).toFixed(1)} s`,
      );
    }
  }
  for (const i of interfaces) {
    if (used !== null && !used.has(i.name)) continue;
    if (!i.present) critical.push(`interface ${i.name} is absent`);
    else if (!i.up) critical.push(`interface ${i.name} is down`);
  }
  let silentMs = 0;
  const byName = new Map(config.rules.map((r) => [r.name, r]));
  for (const r of judged) {
    const rule = byName.get(r.name);
    if (!r.active) {
      critical.push(`rule ${r.name} is waiting for its interfaces`);
      continue;
    }
    silentMs = Math.max(silentMs, r.silent_ms);
    const stale = options.staleMs ?? rule?.stale_after_ms ?? DEFAULT_STALE_MS;
    if (r.silent_ms > stale) {
      critical.push(`rule ${r.name} silent for ${(r.silent_ms / 1000).toFixed(1)} s`);
    }
  }
  // Inspected streams (src/streams/): each judged rule's stream state counts.
  for (const st of streams) {
    if (options.rule !== undefined && st.rule !== options.rule) continue;
    if (st.state === "critical") {
      critical.push(`stream ${st.rule}: ${st.reasons[0] ?? st.indicator}`);
    } else if (st.state === "warning") {
      warning.push(`stream ${st.rule}: ${st.reasons[0] ?? st.indicator}`);
    }
  }
  // Merged pairs (src/merge/): lost on every leg is critical; a leg down, late copies or
  // common-mode loss a warning.
  for (const m of merges) {
    if (options.rule !== undefined && m.rule !== options.rule) continue;
    if (m.state === "critical") critical.push(`merge ${m.rule}: ${m.reasons.join("; ")}`);
    else if (m.state === "warning") warning.push(`merge ${m.rule}: ${m.reasons.join("; ")}`);
  }
  const t = rates.totals;
  // One rule is judged on its own outputs' losses (ring full, send errors), never on another
  // rule's; the relay as a whole also on kernel ring drops.
  const ruleLoss = options.rule === undefined ? 0 : rates.rules[options.rule]?.loss_pps ?? 0;
  const lossPps = options.rule !== undefined
    ? ruleLoss
    : (t.kernel_drops ?? 0) + (t.tx_ring_full ?? 0) + (t.tx_errors ?? 0);
  if (lossPps > (options.maxLossPps ?? 0)) {
    warning.push(
      options.rule !== undefined
        ? `rule ${options.rule}: its outputs lose ${
          lossPps.toFixed(1)
        } copies/s (ring full, send errors)`
        : `loss ${lossPps.toFixed(1)} pkt/s (kernel_drops ${(t.kernel_drops ?? 0).toFixed(1)}, ` +
          `tx_ring_full ${(t.tx_ring_full ?? 0).toFixed(1)}, tx_errors ${
            (t.tx_errors ?? 0).toFixed(1)
          })`,
    );
  }
  const status: HealthStatus = critical.length > 0
    ? "critical"
    : warning.length > 0
    ? "warning"
    : "ok";
  const reasons = critical.length >= MAX_REASONS
    ? critical.slice(0, MAX_REASONS)
    : [...critical, ...warning.slice(0, MAX_REASONS - critical.length)];
  return {
    status,
    reasons,
    reasons_total: critical.length + warning.length,
    rules: judged.length,
    workers: snapshot.workers.length,
    rx_pps: Math.round(
      options.rule === undefined ? t.rx_packets ?? 0 : rates.rules[options.rule]?.pps ?? 0,
    ),
    loss_pps: lossPps,
    tx_errors_pps: t.tx_errors ?? 0,
    silent_s: silentMs / 1000,
    ...(options.rule === undefined ? {} : { rule: options.rule }),
  };
}
