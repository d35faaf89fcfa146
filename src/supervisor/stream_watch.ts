/**
 * The inspected streams, as the supervisor sees them: once a second it
 * merges each stream's blocks from the workers (src/streams/readout.ts),
 * works out its rates and health, and sends every change of a stream's
 * state to the event stream (previous state, new state, the indicator that
 * caused it). It never touches packets: it reads the workers' blocks.
 */
import type { Rule } from "../config/schema.ts";
import {
  mergeStream,
  type StreamReport,
  streamReport,
  type StreamState,
} from "../streams/readout.ts";
import { STREAM_BLOCK_SLOTS } from "../streams/stream_slots.ts";

/** Where the blocks are: the live workers' arrays and the exited workers' sum. */
export interface StreamBlocks {
  live(): readonly Float64Array[];
  archived(): Float64Array;
}

/** An inspected rule of the configuration in force and its stream slot. */
export interface InspectedRule {
  rule: Rule;
  slot: number;
}

export class StreamWatch {
  /** The last reading per rule (for rates) and the state last reported. */
  #last = new Map<string, { packets: number; bytes: number; atMs: number }>();
  #rates = new Map<string, { pps: number; bps: number }>();
  #states = new Map<string, StreamState>();

  constructor(
    readonly blocks: StreamBlocks,
    readonly onEvent: (data: Record<string, unknown>) => void,
  ) {}

  #report(r: InspectedRule, nowMs: number): StreamReport {
    const merged = mergeStream(this.blocks.live(), this.blocks.archived(), r.slot);
    const inspect = r.rule.inspect!;
    return streamReport(r.rule.name, inspect.mode, merged, nowMs * 1000, {
      criticalWindowS: inspect.critical_window_s ?? 10,
      warningWindowS: inspect.warning_window_s ?? 10,
    }, this.#rates.get(r.rule.name) ?? { pps: 0, bps: 0 });
  }

  /** Once a second: rates, and an event for every stream whose state changed. */
  sample(rules: readonly InspectedRule[], nowMs: number): void {
    const names = new Set<string>();
    for (const r of rules) {
      const name = r.rule.name;
      names.add(name);
      const report = this.#report(r, nowMs);
      const last = this.#last.get(name);
      if (last && nowMs > last.atMs) {
        const s = (nowMs - last.atMs) / 1000;
        this.#rates.set(name, {
          pps: Math.max(0, report.packets - last.packets) / s,
          bps: Math.max(0, report.bytes - last.bytes) * 8 / s,
        });
      }
      this.#last.set(name, { packets: report.packets, bytes: report.bytes, atMs: nowMs });
      const before = this.#states.get(name) ?? "ok";
      if (report.state !== before) {
        this.onEvent({
          rule: name,
          from: before,
          to: report.state,
          indicator: report.indicator,
          reasons: report.reasons,
        });
      }
      this.#states.set(name, report.state);
    }
    for (const name of [...this.#last.keys()]) {
      if (names.has(name)) continue;
      this.#last.delete(name);
      this.#rates.delete(name);
      this.#states.delete(name);
    }
  }

  /** Reports of the inspected rules (one, when `rule` is given), now. */
  reports(rules: readonly InspectedRule[], nowMs: number, rule?: string): StreamReport[] {
    return rules.filter((r) => rule === undefined || r.rule.name === rule).map((r) =>
      this.#report(r, nowMs)
    );
  }

  /** The figures of one stream slot, zeroed in every block (a slot released or newly given). */
  static zero(blocks: readonly Float64Array[], slot: number): void {
    const at = slot * STREAM_BLOCK_SLOTS;
    for (const b of blocks) b.fill(0, at, at + STREAM_BLOCK_SLOTS);
  }
}
