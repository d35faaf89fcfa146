/**
 * Rates over a sliding window: the API takes a CounterSample every second
 * and rates are (newest - oldest) / elapsed over the last `windowSeconds`.
 *
 * A sample is raw counter blocks summed over the workers (a copy, linear in
 * counter slots, no object per rule), so sampling stays cheap with 10,000
 * rules; names are attached only when rates are asked for. A rule's or an
 * output's rate is taken between samples only while it keeps the same
 * counter slot (a rule removed and added again starts from zero).
 */
import { type CounterBlocks, namedWorkerCounters } from "./aggregate.ts";
import {
  isGauge,
  OUTPUT_COUNTERS,
  OUTPUT_SLOTS,
  RULE_COUNTERS,
  RULE_SLOTS,
  W,
  WORKER_SLOTS,
} from "./registry.ts";

export interface Rates {
  window_s: number;
  totals: Record<string, number>;
  workers: Record<string, Record<string, number>>;
  rules: Record<
    string,
    {
      pps: number;
      bps: number;
      /** Copies lost at its outputs per second: ring full and send errors. */
      loss_pps: number;
      outputs: { pps: number; bps: number }[];
    }
  >;
}

/** Counters at one moment, summed over live and exited workers. */
export interface CounterSample {
  at_ms: number;
  /** Worker counter slots summed (gauges included; rates skip them). */
  totals: Float64Array;
  workers: { id: number; restarts: number; rx_packets: number; tx_sent: number }[];
  /** Rule and output counter blocks, slot by slot (RULE_SLOTS / OUTPUT_SLOTS wide). */
  rule: Float64Array;
  output: Float64Array;
  /** The slots of each active rule when the sample was taken (a map never changed after). */
  slots: ReadonlyMap<string, { rule: number; outputs: readonly number[] }>;
}

/**
 * Takes a CounterSample: the blocks of exited workers (`archived`) and of
 * the live ones summed, up to the highest rule and output slot in use.
 */
export function sumCounters(
  archived: CounterBlocks,
  workers: readonly { id: number; restarts: number; counters: CounterBlocks }[],
  extent: { rules: number; outputs: number },
  slots: CounterSample["slots"],
  atMs: number,
  /** A sample no longer needed (RateWindow.spare()): its blocks are written over, not allocated. */
  reuse?: CounterSample,
): CounterSample {
  const sum = (n: number, pick: (b: CounterBlocks) => Float64Array, old?: Float64Array) => {
    const out = old !== undefined && old.length === n ? old : new Float64Array(n);
    out.set(pick(archived).subarray(0, n));
    for (const w of workers) {
      const a = pick(w.counters);
      for (let i = 0; i < n; i++) out[i] += a[i];
    }
    return out;
  };
  return {
    at_ms: atMs,
    totals: sum(WORKER_SLOTS, (b) => b.worker, reuse?.totals),
    workers: workers.map((w) => ({
      id: w.id,
      restarts: w.restarts,
      rx_packets: w.counters.worker[W.rx_packets],
      tx_sent: w.counters.worker[W.tx_sent],
    })),
    rule: sum(extent.rules * RULE_SLOTS, (b) => b.rule, reuse?.rule),
    output: sum(extent.outputs * OUTPUT_SLOTS, (b) => b.output, reuse?.output),
    slots,
  };
}

// Offsets of packets and bytes in the rule and output blocks, from the registry.
const PACKETS = RULE_COUNTERS.findIndex((c) => c.name === "packets");
const BYTES = RULE_COUNTERS.findIndex((c) => c.name === "bytes");
const OUT_PACKETS = OUTPUT_COUNTERS.findIndex((c) => c.name === "packets");
const OUT_BYTES = OUTPUT_COUNTERS.findIndex((c) => c.name === "bytes");
const OUT_RING_FULL = OUTPUT_COUNTERS.findIndex((c) => c.name === "ring_full");
const OUT_ERRORS = OUTPUT_COUNTERS.findIndex((c) => c.name === "errors");

export class RateWindow {
  #samples: CounterSample[] = [];
  constructor(readonly windowSeconds = 5) {}

  /** A sample out of the window, whose blocks the next one may be written into. */
  #spare: CounterSample | undefined;

  add(s: CounterSample): void {
    this.#samples.push(s);
    const cutoff = s.at_ms - this.windowSeconds * 1000 - 500;
    while (this.#samples.length > 2 && this.#samples[0].at_ms < cutoff) {
      this.#spare = this.#samples.shift();
    }
  }

  /**
   * The sample that left the window, for the next sample's blocks (taken
   * every second at 10,000 rules, fresh blocks were most of an idle relay's
   * garbage collection); undefined when there is none.
   */
  spare(): CounterSample | undefined {
    const s = this.#spare;
    this.#spare = undefined;
    return s;
  }

  /** Per-second rates between the oldest and newest sample (zeros until two samples exist). */
  rates(): Rates {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last) return { window_s: 0, totals: {}, workers: {}, rules: {} };
    const dt = last.at_ms > first.at_ms ? (last.at_ms - first.at_ms) / 1000 : 0;
    const per = (a: number, b: number) => dt > 0 ? Math.max(0, (b - a) / dt) : 0;
    const totals: Record<string, number> = {};
    const before = namedWorkerCounters(first.totals);
    for (const [k, v] of Object.entries(namedWorkerCounters(last.totals))) {
      if (isGauge(k)) continue; // a gauge (heartbeat, last errno) has no rate
      totals[k] = per(before[k] ?? 0, v);
    }
    const workers: Rates["workers"] = {};
    for (const w of last.workers) {
      const old = first.workers.find((x) => x.id === w.id && x.restarts === w.restarts) ?? w;
      workers[String(w.id)] = {
        rx_pps: per(old.rx_packets, w.rx_packets),
        tx_pps: per(old.tx_sent, w.tx_sent),
      };
    }
    const at = (a: Float64Array, i: number) => i < a.length ? a[i] : 0;
    const rules: Rates["rules"] = {};
    for (const [name, s] of last.slots) {
      const o = first.slots.get(name);
      const r = s.rule * RULE_SLOTS;
      const kept = o !== undefined && o.rule === s.rule;
      let loss = 0;
      s.outputs.forEach((slot, i) => {
        if (o === undefined || o.outputs[i] !== slot) return;
        const x = slot * OUTPUT_SLOTS;
        loss += per(at(first.output, x + OUT_RING_FULL), at(last.output, x + OUT_RING_FULL)) +
          per(at(first.output, x + OUT_ERRORS), at(last.output, x + OUT_ERRORS));
      });
      rules[name] = {
        loss_pps: loss,
        pps: kept ? per(at(first.rule, r + PACKETS), at(last.rule, r + PACKETS)) : 0,
        bps: kept ? 8 * per(at(first.rule, r + BYTES), at(last.rule, r + BYTES)) : 0,
        outputs: s.outputs.map((slot, i) => {
          const x = slot * OUTPUT_SLOTS;
          const same = o !== undefined && o.outputs[i] === slot;
          return {
            pps: same
              ? per(at(first.output, x + OUT_PACKETS), at(last.output, x + OUT_PACKETS))
              : 0,
            bps: same
              ? 8 * per(at(first.output, x + OUT_BYTES), at(last.output, x + OUT_BYTES))
              : 0,
          };
        }),
      };
    }
    return { window_s: dt, totals, workers, rules };
  }
}
