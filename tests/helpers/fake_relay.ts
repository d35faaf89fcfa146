/** A RelayControl without packets, for API tests: applyConfig just swaps the config. */
import type { Config } from "../../src/config/schema.ts";
import type {
  ApplyResult,
  InterfaceState,
  RelayControl,
  StatsSnapshot,
} from "../../src/supervisor/control.ts";
import { createLogger } from "../../src/log.ts";
import { type CounterSample, RateWindow } from "../../src/stats/rates.ts";
import { EventBus } from "../../src/events.ts";
import type { ApiDeps } from "../../src/api/app.ts";
import { diffRules } from "../../src/supervisor/config_diff.ts";

export class FakeRelay implements RelayControl {
  applied: Config[] = [];
  /** Set to make the next applyConfig fail (as an interface problem would). */
  failNext: Error | null = null;
  packets = new Map<string, number>();
  constructor(public current: Config) {}
  config(): Config {
    return this.current;
  }
  applyConfig(next: Config): Promise<ApplyResult> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      return Promise.reject(e);
    }
    const result = diffRules(this.current, next);
    this.current = next;
    this.applied.push(next);
    return Promise.resolve(result);
  }
  #queue: Promise<unknown> = Promise.resolve();
  /** Like the Supervisor: one queue; a failed commit puts the previous config back. */
  change(
    build: (current: Config) => Config | Promise<Config>,
    commit?: (next: Config) => Promise<void>,
  ): Promise<ApplyResult> {
    const run = this.#queue.then(async () => {
      const before = this.current;
      const next = await build(before);
      const result = await this.applyConfig(next);
      if (commit) {
        try {
          await commit(next);
        } catch (err) {
          this.current = before;
          throw err;
        }
      }
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
  /** No counters move in the fake: an empty sample. */
  counterSample(): CounterSample {
    return {
      at_ms: Date.now(),
      totals: new Float64Array(0),
      workers: [],
      rule: new Float64Array(0),
      output: new Float64Array(0),
      slots: new Map(),
    };
  }

  stats(): StatsSnapshot {
    return {
      at_ms: Date.now(),
      uptime_s: 10,
      totals: {
        rx_packets: 100,
        matched: 90,
        tx_sent: 90,
        kernel_drops: 0,
        tx_ring_full: 0,
        tx_errors: 0,
        drop_no_match: 10,
      },
      workers: [{
        id: 0,
        alive: true,
        restarts: 0,
        last_restart: null,
        heartbeat_age_ms: 5,
        counters: { rx_packets: 100, tx_sent: 90, drop_no_match: 10 },
      }],
      rules: this.current.rules.map((r) => ({
        name: r.name,
        input: { ...r.input! },
        counters: { packets: this.packets.get(r.name) ?? 0, bytes: 0 },
        silent_ms: 100,
        active: true,
        outputs: r.outputs.map((o) => ({
          interface: o.interface,
          group: o.group,
          port: o.port,
          counters: { packets: 0, bytes: 0, ring_full: 0, too_big: 0 },
        })),
      })),
    };
  }
  interfaces(): InterfaceState[] {
    return [];
  }
}

export const BASE_CONFIG: Config = {
  rules: [{
    name: "cam1",
    input: { interface: "eth1", group: "239.1.1.1", port: 5001 },
    outputs: [{ interface: "eth2", group: "239.9.9.9", port: 5099 }],
  }],
};

export function fakeDeps(relay: FakeRelay, extra: Partial<ApiDeps> = {}): ApiDeps {
  return {
    relay,
    logger: createLogger({ level: "error", write: () => {} }),
    version: { version: "0.0.0", commit: "test", deno: Deno.version.deno, liburing: "2.3" },
    rates: new RateWindow(5),
    events: new EventBus(),
    token: null,
    tokenForReads: false,
    persist: null,
    ...extra,
  };
}
