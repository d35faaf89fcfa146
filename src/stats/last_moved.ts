/**
 * When counters last moved: each drop reason, kernel drops, each rule
 * slot's dropped frames, and each output slot's sent packets and its losses
 * (ring full, too big, refused, TTL). Fed the
 * once-a-second CounterSample the rate window takes, so it reads nothing of
 * its own; `mcr explain` uses it to say "last occurred 3 s ago" and "last
 * copy sent 40 s ago". Resolution: one second. An output slot freed and
 * given to another output carries its old times until its counters move.
 */
import type { CounterSample } from "./rates.ts";
import {
  DROP_REASONS,
  DROP_SLOT_BASE,
  OUT,
  OUTPUT_SLOTS,
  RULE,
  RULE_SLOTS,
  W,
} from "./registry.ts";

/** Output counter slots whose rise is a loss (not a copy sent). */
const OUTPUT_LOSS = [OUT.ring_full, OUT.too_big, OUT.errors, OUT.ttl_expired];

export class LastMoved {
  #prev: CounterSample | null = null;
  /** Per drop reason (DROP_REASONS order): when its counter last rose, ms; 0 never. */
  readonly drops = new Float64Array(DROP_REASONS.length);
  /** When the kernel last dropped frames for a full RX ring, ms; 0 never. */
  kernelDropsAt = 0;
  /** Per output slot: when a copy was last sent / last lost, ms; 0 never. */
  #sent = new Float64Array(0);
  #lost = new Float64Array(0);
  /** Per rule slot: when a frame of its stream was last dropped, ms; 0 never. */
  #dropped = new Float64Array(0);

  /** Compares a sample with the one before (the caller keeps samples unchanged until the next). */
  add(s: CounterSample): void {
    const p = this.#prev;
    this.#prev = s;
    if (p === null) return;
    for (let i = 0; i < DROP_REASONS.length; i++) {
      if (s.totals[DROP_SLOT_BASE + i] > p.totals[DROP_SLOT_BASE + i]) this.drops[i] = s.at_ms;
    }
    if (s.totals[W.kernel_drops] > p.totals[W.kernel_drops]) this.kernelDropsAt = s.at_ms;
    const rules = Math.floor(s.rule.length / RULE_SLOTS);
    if (this.#dropped.length < rules) this.#dropped = grow(this.#dropped, rules);
    const m = Math.min(rules, Math.floor(p.rule.length / RULE_SLOTS));
    for (let slot = 0; slot < m; slot++) {
      const at = slot * RULE_SLOTS + RULE.dropped;
      if (s.rule[at] > p.rule[at]) this.#dropped[slot] = s.at_ms;
    }
    const outputs = Math.floor(s.output.length / OUTPUT_SLOTS);
    if (this.#sent.length < outputs) {
      this.#sent = grow(this.#sent, outputs);
      this.#lost = grow(this.#lost, outputs);
    }
    const n = Math.min(outputs, Math.floor(p.output.length / OUTPUT_SLOTS));
    for (let slot = 0; slot < n; slot++) {
      const at = slot * OUTPUT_SLOTS;
      if (s.output[at + OUT.packets] > p.output[at + OUT.packets]) this.#sent[slot] = s.at_ms;
      for (const k of OUTPUT_LOSS) {
        if (s.output[at + k] > p.output[at + k]) this.#lost[slot] = s.at_ms;
      }
    }
  }

  /** When a frame of rule `slot`'s stream was last dropped (ms since the epoch, null never). */
  ruleDropped(slot: number): number | null {
    return slot < this.#dropped.length && this.#dropped[slot] > 0 ? this.#dropped[slot] : null;
  }

  /** When output `slot` last sent a copy and last lost one (ms since the epoch, null never). */
  output(slot: number): { sent_at_ms: number | null; lost_at_ms: number | null } {
    const v = (a: Float64Array) => slot < a.length && a[slot] > 0 ? a[slot] : null;
    return { sent_at_ms: v(this.#sent), lost_at_ms: v(this.#lost) };
  }
}

function grow(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
