/**
 * Primary/backup failover for legs that are NOT copies (two encoders, two
 * contribution paths with their own sequence): one leg, the active one, is
 * sent; the others are dropped. The active leg changes
 *   - away from it when it has been silent for hold_off (no packet), or lost
 *     a packet within hold_off while the leg taking over has not;
 *   - back to the primary once the primary has been clean (packets flowing,
 *     nothing lost) for clear_ms;
 *   - to the leg the operator locks (the block's control word), whatever
 *     the others do, until the lock is lifted;
 * and never twice within hold_off, except by the lock. Every change is
 * written to the block's switch log (when, from, to, why) for the
 * supervisor's events. Loss is seen from the key's sequence number when
 * the key has one; without one only silence switches.
 */
import {
  CONTROL_LOCK,
  L,
  LEG_BASE,
  LEG_FIGURES,
  M,
  SWITCH_BASE,
  SWITCH_COLUMNS,
  SWITCH_LOG,
  SWITCH_REASONS,
  type SwitchReason,
} from "./merge_slots.ts";
import type { BlockViews } from "./merge_slots.ts";

/** A sequence jump larger than this is a restart of the leg's sender, not loss. */
const MAX_GAP = 3000;

const ACTIVE = M.active_leg;
const SWITCHES = M.switches;
const LAST_SWITCH = M.last_switch_us;
const LOCK_SEEN = M.lock_seen;
const FORWARDED = M.forwarded;
const LEG0 = LEG_BASE;
const LEG_W = LEG_FIGURES;
const L_FIRST = L.first;
const L_LOST = L.lost;
const L_LAST = L.last_us;
const L_UP_SINCE = L.up_since_us;
const L_LAST_LOSS = L.last_loss_us;
const L_NEXT = L.next;

export class Failover {
  readonly f: Float64Array;
  readonly control: Int32Array;

  constructor(
    views: BlockViews,
    readonly legs: number,
    readonly primary: number,
    readonly holdOffUs: number,
    readonly clearUs: number,
    /** 65536 or 2^32 when the key has a sequence number; 0 when it has none. */
    readonly modulus: number,
  ) {
    this.f = views.figures;
    this.control = views.control;
  }

  /**
   * One datagram on `leg` (its sequence number and the numbers it covers,
   * when the key has one, else -1; `prevLastUs`: the leg's previous
   * arrival). True: send it.
   */
  admit(leg: number, seq: number, count: number, prevLastUs: number, now: number): boolean {
    const f = this.f;
    const row = LEG0 + leg * LEG_W;
    if (now - prevLastUs >= this.holdOffUs || prevLastUs === 0) f[row + L_UP_SINCE] = now;
    if (this.modulus !== 0 && seq >= 0) this.#follow(row, seq, count, now);
    const lock = Atomics.load(this.control, CONTROL_LOCK);
    const active = f[ACTIVE];
    if (lock >= 0 && lock < this.legs) {
      if (active !== lock) this.#switch(lock, "lock", now);
      f[LOCK_SEEN] = lock;
      return this.#send(leg === lock, row);
    }
    f[LOCK_SEEN] = -1;
    if (active < 0) {
      this.#switch(leg, "start", now);
      return this.#send(true, row);
    }
    if (leg === active) return this.#send(true, row);
    const clean = now - f[row + L_LAST_LOSS] >= this.holdOffUs;
    if (
      leg === this.primary && now - f[row + L_UP_SINCE] >= this.clearUs &&
      now - f[row + L_LAST_LOSS] >= this.clearUs
    ) {
      this.#switch(leg, "revert", now);
      return this.#send(true, row);
    }
    const a = LEG0 + active * LEG_W;
    const silent = now - f[a + L_LAST] >= this.holdOffUs;
    const lossy = now - f[a + L_LAST_LOSS] < this.holdOffUs;
    if ((silent || lossy) && clean && now - f[LAST_SWITCH] >= this.holdOffUs) {
      this.#switch(leg, silent ? "silence" : "loss", now);
      return this.#send(true, row);
    }
    return false;
  }

  #send(yes: boolean, row: number): boolean {
    if (yes) {
      this.f[FORWARDED] += 1;
      this.f[row + L_FIRST] += 1;
    }
    return yes;
  }

  /** The leg's own sequence: a gap is loss on that leg. */
  #follow(row: number, seq: number, count: number, now: number): void {
    const f = this.f;
    const next = f[row + L_NEXT];
    if (next >= 0 && f[row + L_UP_SINCE] !== now) {
      let d = seq - next;
      d = this.modulus === 65536 ? (d << 16) >> 16 : d | 0;
      if (d > 0 && d <= MAX_GAP) {
        f[row + L_LOST] += d;
        f[row + L_LAST_LOSS] = now;
      }
    }
    f[row + L_NEXT] = (seq + count) % this.modulus;
  }

  #switch(to: number, reason: SwitchReason, now: number): void {
    const f = this.f;
    const from = f[ACTIVE];
    const n = f[SWITCHES];
    const at = SWITCH_BASE + (n % SWITCH_LOG) * SWITCH_COLUMNS;
    f[at] = now;
    f[at + 1] = from;
    f[at + 2] = to;
    f[at + 3] = SWITCH_REASONS.indexOf(reason);
    f[ACTIVE] = to;
    f[LAST_SWITCH] = now;
    f[SWITCHES] = n + 1;
  }
}
