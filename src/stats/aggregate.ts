/**
 * Counter blocks -> StatsSnapshot. Workers write Float64 slots (one writer
 * each); this sums them with the archived totals of exited workers, so
 * totals never go backwards. Linear in rules x workers.
 */
import { primaryInput, type Rule } from "../config/schema.ts";
import {
  DROP_REASONS,
  DROP_SLOT_BASE,
  isGauge,
  OUTPUT_COUNTERS,
  OUTPUT_SLOTS,
  RESIDENCE_BUCKETS_US,
  RESIDENCE_COUNT_SLOT,
  RESIDENCE_SLOT_BASE,
  RESIDENCE_SUM_SLOT,
  RULE_COUNTERS,
  RULE_SLOTS,
  W,
  WORKER_COUNTERS,
  WORKER_SLOTS,
} from "./registry.ts";
import type {
  CounterValues,
  RestartTiming,
  RuleStats,
  StatsSnapshot,
  WorkerStats,
} from "./snapshot.ts";

/** One worker's counter blocks, as the aggregation reads them. */
export interface CounterBlocks {
  worker: Float64Array;
  rule: Float64Array;
  output: Float64Array;
}

export interface WorkerReading {
  id: number;
  alive: boolean;
  restarts: number;
  lastRestart?: RestartTiming | null;
  counters: CounterBlocks;
}

export interface AggregateInput {
  now: number;
  startedAt: number;
  workers: readonly WorkerReading[];
  /** Totals of workers that exited. */
  archived: CounterBlocks;
  /** Active rules of the configuration in force, in order. */
  rules: readonly Rule[];
  /** Counter slots by rule name. */
  slots: ReadonlyMap<string, { rule: number; outputs: number[] }>;
  /** Rules the plan in force forwards (others wait for an interface). */
  forwarding: ReadonlySet<string>;
  /** When each rule's packet counter last moved (ms since epoch). */
  lastChange: ReadonlyMap<string, { changedAt: number }>;
  /** What to read: everything (default), rules without counters or outputs, or no rules at all. */
  view?: StatsView;
}

/**
 * How much of the snapshot a reader needs: "full"; "states" (each rule's
 * name, input, silence and state, no counters: what health judges); "workers"
 * (no rules: O(1) in the number of rules).
 */
export type StatsView = "full" | "states" | "workers";

/** Name of residence bucket i in CounterValues (the last one has no upper bound). */
export function residenceBucketName(i: number): string {
  return i < RESIDENCE_BUCKETS_US.length
    ? `residence_le_${RESIDENCE_BUCKETS_US[i]}us`
    : "residence_le_inf";
}

/** Worker counters (and drop_<reason>, and the residence histogram) of one block, by name. */
export function namedWorkerCounters(a: Float64Array): CounterValues {
  const out: CounterValues = {};
  WORKER_COUNTERS.forEach((c, i) => out[c.name] = a[i]);
  DROP_REASONS.forEach((d, i) => out[`drop_${d.name}`] = a[DROP_SLOT_BASE + i]);
  for (let i = 0; i <= RESIDENCE_BUCKETS_US.length; i++) {
    out[residenceBucketName(i)] = a[RESIDENCE_SLOT_BASE + i];
  }
  out.residence_sum_us = a[RESIDENCE_SUM_SLOT];
  out.residence_count = a[RESIDENCE_COUNT_SLOT];
  return out;
}

/**
 * A residence-time quantile from the histogram counters: the upper bound of
 * the bucket that holds it (µs; Infinity above the last bound, null without
 * samples). A histogram's resolution, not an exact percentile.
 */
export function residenceQuantileUs(c: CounterValues, q: number): number | null {
  const total = c.residence_count ?? 0;
  if (total <= 0) return null;
  let seen = 0;
  for (let i = 0; i <= RESIDENCE_BUCKETS_US.length; i++) {
    seen += c[residenceBucketName(i)] ?? 0;
    if (seen >= q * total) {
      return i < RESIDENCE_BUCKETS_US.length ? RESIDENCE_BUCKETS_US[i] : Infinity;
    }
  }
  return Infinity;
}

function sumSlot(
  input: AggregateInput,
  kind: "rule" | "output",
  slot: number,
  width: number,
  index: number,
): number {
  const at = slot * width + index;
  let v = input.archived[kind][at];
  for (const w of input.workers) v += w.counters[kind][at];
  return v;
}

export function aggregate(input: AggregateInput): StatsSnapshot {
  const { now, startedAt } = input;
  const totalsArray = new Float64Array(WORKER_SLOTS);
  totalsArray.set(input.archived.worker);
  for (const w of input.workers) {
    for (let i = 0; i < WORKER_SLOTS; i++) totalsArray[i] += w.counters.worker[i];
  }
  // Gauges are not sums: the largest value (newest heartbeat, a non-zero errno) stands for all.
  WORKER_COUNTERS.forEach((c, i) => {
    if (isGauge(c.name)) {
      totalsArray[i] = Math.max(
        0,
        ...input.workers.map((w) => w.counters.worker[i]),
      );
    }
  });
  const totals = namedWorkerCounters(totalsArray);
  const workers: WorkerStats[] = input.workers.map((w) => {
    const hb = w.counters.worker[W.heartbeat_ms];
    return {
      id: w.id,
      alive: w.alive,
      restarts: w.restarts,
      last_restart: w.lastRestart ? { ...w.lastRestart } : null,
      heartbeat_age_ms: hb > 0 ? Math.max(0, now - hb) : now - startedAt,
      counters: namedWorkerCounters(w.counters.worker),
    };
  });
  const view = input.view ?? "full";
  if (view === "workers") {
    return { at_ms: now, uptime_s: (now - startedAt) / 1000, totals, workers, rules: [] };
  }
  const rules: RuleStats[] = input.rules.map((r) => {
    const last = input.lastChange.get(r.name)?.changedAt;
    if (view === "states") {
      return {
        name: r.name,
        input: primaryInput(r),
        counters: {},
        silent_ms: now - (last ?? startedAt),
        active: input.forwarding.has(r.name),
        outputs: [],
      };
    }
    const s = input.slots.get(r.name);
    const counters: CounterValues = {};
    RULE_COUNTERS.forEach((c, i) =>
      counters[c.name] = s ? sumSlot(input, "rule", s.rule, RULE_SLOTS, i) : 0
    );
    return {
      name: r.name,
      input: { ...primaryInput(r) },
      ...(r.merge ? { legs: r.merge.legs.map((l) => ({ ...l })) } : {}),
      counters,
      silent_ms: now - (last ?? startedAt),
      active: input.forwarding.has(r.name),
      outputs: r.outputs.map((o, j) => {
        const oc: CounterValues = {};
        OUTPUT_COUNTERS.forEach((c, i) =>
          oc[c.name] = s ? sumSlot(input, "output", s.outputs[j], OUTPUT_SLOTS, i) : 0
        );
        return { ...o, counters: oc };
      }),
    };
  });
  return { at_ms: now, uptime_s: (now - startedAt) / 1000, totals, workers, rules };
}
