/**
 * Rates over a sliding window: the API samples a StatsSnapshot every second
 * and rates are (newest - oldest) / elapsed over the last `windowSeconds`.
 */
import { isGauge } from "./registry.ts";
import type { StatsSnapshot } from "./snapshot.ts";

export interface Rates {
  window_s: number;
  totals: Record<string, number>;
  workers: Record<string, Record<string, number>>;
  rules: Record<string, { pps: number; bps: number; outputs: { pps: number; bps: number }[] }>;
}

export class RateWindow {
  #samples: StatsSnapshot[] = [];
  constructor(readonly windowSeconds = 5) {}

  add(s: StatsSnapshot): void {
    this.#samples.push(s);
    const cutoff = s.at_ms - this.windowSeconds * 1000 - 500;
    while (this.#samples.length > 2 && this.#samples[0].at_ms < cutoff) this.#samples.shift();
  }

  /** Per-second rates between the oldest and newest sample (zeros until two samples exist). */
  rates(): Rates {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    const dt = first && last && last.at_ms > first.at_ms ? (last.at_ms - first.at_ms) / 1000 : 0;
    const per = (a: number | undefined, b: number | undefined) => dt > 0 ? Math.max(0, ((b ?? 0) - (a ?? 0)) / dt) : 0;
    const totals: Record<string, number> = {};
    for (const k of Object.keys(last?.totals ?? {})) {
      if (isGauge(k)) continue; // a gauge (heartbeat, last errno) has no rate
      totals[k] = per(first.totals[k], last.totals[k]);
    }
    const workers: Rates["workers"] = {};
    for (const w of last?.workers ?? []) {
      const old = first.workers.find((x) => x.id === w.id && x.restarts === w.restarts);
      workers[String(w.id)] = {
        rx_pps: per(old?.counters.rx_packets ?? w.counters.rx_packets, w.counters.rx_packets),
        tx_pps: per(old?.counters.tx_sent ?? w.counters.tx_sent, w.counters.tx_sent),
      };
    }
    const rules: Rates["rules"] = {};
    const before = new Map((first?.rules ?? []).map((x) => [x.name, x]));
    for (const r of last?.rules ?? []) {
      const old = before.get(r.name);
      rules[r.name] = {
        pps: per(old?.counters.packets ?? r.counters.packets, r.counters.packets),
        bps: 8 * per(old?.counters.bytes ?? r.counters.bytes, r.counters.bytes),
        outputs: r.outputs.map((o, i) => {
          const oo = old?.outputs[i];
          const same = oo && oo.interface === o.interface && oo.group === o.group && oo.port === o.port;
          return {
            pps: per(same ? oo.counters.packets : o.counters.packets, o.counters.packets),
            bps: 8 * per(same ? oo.counters.bytes : o.counters.bytes, o.counters.bytes),
          };
        }),
      };
    }
    return { window_s: dt, totals, workers, rules };
  }
}
