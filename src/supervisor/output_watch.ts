/**
 * Failing outputs, told in the log: every second, when the relay's TX errors
 * or full-ring drops moved (one sum over the workers: nothing more is read
 * while nothing fails), the outputs that lost copies are found and each is
 * logged, at most once per LOG_EVERY_MS, with what it lost and the errno the
 * kernel gave by name (ENETUNREACH, not 101).
 */
import { errnoName } from "../../ffi/errno.ts";
import { endpointText, type Rule } from "../config/schema.ts";
import { OUTPUT_COUNTERS, OUTPUT_SLOTS, W } from "../stats/registry.ts";
import type { SlotAssignment } from "./counter_slots.ts";

const ERRORS = OUTPUT_COUNTERS.findIndex((c) => c.name === "errors");
const RING_FULL = OUTPUT_COUNTERS.findIndex((c) => c.name === "ring_full");

/** An output that keeps failing is logged again after this long. */
export const LOG_EVERY_MS = 10_000;

/** The counter blocks of exited workers and of the live ones. */
export interface Blocks {
  archived: { worker: Float64Array; output: Float64Array };
  live: readonly { worker: Float64Array; output: Float64Array }[];
}

export class OutputWatch {
  /** TX errors + full-ring drops over all workers at the last sample. */
  #total = 0;
  /** Per output slot: [errors, ring_full] at the last look. */
  #seen = new Map<number, [number, number]>();
  /** Per output (rule|slot): when it was last logged. */
  #loggedAt = new Map<string, number>();

  constructor(readonly warn: (msg: string, fields: Record<string, unknown>) => void) {}

  sample(
    rules: readonly Rule[],
    assigned: ReadonlyMap<string, SlotAssignment>,
    blocks: Blocks,
    now: number,
  ): void {
    const all = [blocks.archived, ...blocks.live];
    let total = 0;
    for (const b of all) total += b.worker[W.tx_errors] + b.worker[W.tx_ring_full];
    if (total === this.#total) return; // nothing failed anywhere since the last sample
    this.#total = total;
    const sum = (at: number) => {
      let v = 0;
      for (const b of all) v += b.output[at];
      return v;
    };
    const errno = (kind: number) => Math.max(0, ...blocks.live.map((b) => b.worker[kind]));
    for (const rule of rules) {
      const s = assigned.get(rule.name);
      if (s === undefined) continue;
      rule.outputs.forEach((o, i) => {
        const slot = s.outputs[i];
        const errors = sum(slot * OUTPUT_SLOTS + ERRORS);
        const full = sum(slot * OUTPUT_SLOTS + RING_FULL);
        const [e0, f0] = this.#seen.get(slot) ?? [0, 0];
        this.#seen.set(slot, [errors, full]);
        // A slot reused by another output starts from zero: less than before is not a failure.
        const lostErrors = Math.max(0, errors - e0);
        const lostFull = Math.max(0, full - f0);
        if (lostErrors + lostFull === 0) return;
        const key = `${rule.name}|${slot}`;
        if (now - (this.#loggedAt.get(key) ?? -Infinity) < LOG_EVERY_MS) return;
        this.#loggedAt.set(key, now);
        const code = errno(o.egress === "routed" ? W.last_routed_errno : W.last_kick_errno);
        this.warn("output failing", {
          rule: rule.name,
          output: endpointText(o),
          refused: lostErrors,
          ring_full: lostFull,
          ...(lostErrors > 0 && code > 0 ? { errno: errnoName(code) } : {}),
          refused_total: errors,
          ring_full_total: full,
        });
      });
    }
    if (this.#loggedAt.size > 4 * assigned.size + 64) this.#loggedAt.clear();
  }
}
