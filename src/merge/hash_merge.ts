/**
 * Hitless merge of byte-identical legs that carry no sequence number
 * (MPEG-TS over UDP): a datagram's copies are recognised by a 53-bit hash
 * of its payload. Identical datagrams on ONE leg are legitimate (null
 * stuffing, heartbeats) and all pass: the k-th occurrence of a payload on
 * one leg is paired with the k-th on another, and a datagram is sent when
 * its occurrence count on its leg goes past the count already sent.
 *
 * Entries live in an open-addressed table (PROBES slots per key); one is
 * reused once its window (`windowUs` after its first copy) has passed, and
 * judged then: a leg that brought fewer occurrences than were sent lost
 * them, repaired by another. Without a sequence number nothing lost on every
 * leg can be seen, so `lost` stays 0 here. An entry is kept past its window
 * until its slot is needed, so a copy that comes after it is counted late.
 * The table is sized for the rule's rate; when every probed slot is still
 * in its window, the datagram is sent untracked (window_overflows).
 */
import { L, LEG_BASE, LEG_FIGURES, M, MAX_LEGS } from "./merge_slots.ts";
import type { BlockViews } from "./merge_slots.ts";

/** Slots looked at for one key. */
export const PROBES = 8;

const FORWARDED = M.forwarded;
const DUPLICATES = M.duplicates;
const LATE = M.late;
const LOST_SINGLE = M.lost_single;
const LOST_MULTI = M.lost_multi;
const OVERFLOWS = M.window_overflows;
const LEG0 = LEG_BASE;
const LEG_W = LEG_FIGURES;
const L_FIRST = L.first;
const L_DUP = L.duplicates;
const L_LATE = L.late;
const L_LOST = L.lost;
const L_RECOVERED = L.recovered;
const L_PD = L.pd_us;
const L_PD_MAX = L.pd_max_us;

/** A judged entry's `info` has this bit: its losses are counted. */
const JUDGED = 1 << 30;

export class HashMerge {
  readonly f: Float64Array;
  readonly tags: Float64Array;
  readonly first: Float64Array;
  /** Occurrences sent per entry (bit 30: judged). */
  readonly sent: Int32Array;
  /** Occurrences per entry and leg: entry i's leg l at i * MAX_LEGS + l. */
  readonly counts: Int32Array;
  readonly mask: number;

  constructor(
    views: BlockViews,
    counts: Int32Array,
    readonly legs: number,
    readonly windowUs: number,
  ) {
    this.f = views.figures;
    this.tags = views.tags;
    this.first = views.first;
    this.sent = views.info;
    this.counts = counts;
    this.mask = views.tags.length - 1;
  }

  /** One datagram on `leg` whose payload hashes to `key`. True: send it. */
  admit(leg: number, key: number, now: number): boolean {
    const f = this.f;
    const row = LEG0 + leg * LEG_W;
    const mask = this.mask;
    let free = -1;
    let i = key % (mask + 1);
    for (let p = 0; p < PROBES; p++, i = (i + 1) & mask) {
      const tag = this.tags[i];
      if (tag === key) return this.#occurrence(i, leg, row, now);
      if (free < 0 && (tag === -1 || now - this.first[i] >= this.windowUs)) free = i;
    }
    if (free < 0) {
      f[OVERFLOWS] += 1;
      f[FORWARDED] += 1;
      f[row + L_FIRST] += 1;
      return true;
    }
    if (this.tags[free] !== -1) this.#judgeEntry(free);
    this.tags[free] = key;
    this.first[free] = now;
    this.sent[free] = 1;
    const c = free * MAX_LEGS;
    for (let l = 0; l < MAX_LEGS; l++) this.counts[c + l] = l === leg ? 1 : 0;
    f[FORWARDED] += 1;
    f[row + L_FIRST] += 1;
    f[row + L_PD] = 0;
    return true;
  }

  #occurrence(i: number, leg: number, row: number, now: number): boolean {
    const f = this.f;
    const k = ++this.counts[i * MAX_LEGS + leg];
    const sent = this.sent[i] & ~JUDGED;
    if (now - this.first[i] >= this.windowUs) {
      if (k <= sent) {
        f[LATE] += 1;
        f[row + L_LATE] += 1;
        return false;
      }
      // A new occurrence of a payload seen long ago (a heartbeat): an entry of its own.
      this.#judgeEntry(i);
      this.first[i] = now;
      this.sent[i] = 1;
      const c = i * MAX_LEGS;
      for (let l = 0; l < MAX_LEGS; l++) this.counts[c + l] = l === leg ? 1 : 0;
      f[FORWARDED] += 1;
      f[row + L_FIRST] += 1;
      return true;
    }
    if (k > sent) {
      this.sent[i] = k;
      f[FORWARDED] += 1;
      f[row + L_FIRST] += 1;
      return true;
    }
    f[DUPLICATES] += 1;
    f[row + L_DUP] += 1;
    if (k === 1) {
      const pd = now - this.first[i];
      f[row + L_PD] = pd;
      if (pd > f[row + L_PD_MAX]) f[row + L_PD_MAX] = pd;
    }
    return false;
  }

  /** Counts an entry's losses once: each occurrence sent that a leg did not bring. */
  #judgeEntry(i: number): void {
    const s = this.sent[i];
    if ((s & JUDGED) !== 0) return;
    this.sent[i] = s | JUDGED;
    const f = this.f;
    const c = i * MAX_LEGS;
    for (let k = 1; k <= s; k++) {
      let missing = 0;
      for (let l = 0; l < this.legs; l++) {
        if (this.counts[c + l] >= k) continue;
        missing++;
        const row = LEG0 + l * LEG_W;
        f[row + L_LOST] += 1;
        f[row + L_RECOVERED] += 1;
      }
      if (missing >= 2) f[LOST_MULTI] += 1;
      else if (missing === 1) f[LOST_SINGLE] += 1;
    }
  }
}

/**
 * A 53-bit hash of `len` payload bytes at `off` (two 32-bit multiply-mix
 * lanes over 4-byte words, the length folded in), exact as a double.
 */
export function payloadHash(view: DataView, off: number, len: number): number {
  let a = 0x9e3779b9 ^ len;
  let b = 0x85ebca6b ^ Math.imul(len, 0xc2b2ae35);
  const end = off + (len & ~3);
  let p = off;
  for (; p < end; p += 4) {
    const w = view.getInt32(p);
    a = Math.imul(a ^ w, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b + w, 0x5bd1e995);
    b ^= b >>> 13;
  }
  for (; p < off + len; p++) {
    const w = view.getUint8(p);
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b + w, 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  return (a >>> 0) * 2097152 + ((b ^ (b >>> 16)) & 0x1fffff);
}
