/**
 * Hitless merge by sequence number (SMPTE ST 2022-7 with RTP; A/B market
 * data with a sequence number in the payload). One writer: the worker that
 * merges the pair (its legs' rings are read by that worker alone), over the
 * pair's block (merge_slots.ts), so a restarted worker continues it.
 *
 * Every datagram's sequence number is extended past its wrap (RFC 3550
 * A.1) and looked up in the window table:
 *   - an entry holding it: a later copy; dropped, its leg noted, the path
 *     differential (now - first copy) measured;
 *   - none: the first copy; sent at once, its entry claimed;
 *   - behind the judged edge (the cursor): its window has closed; late.
 * The cursor judges numbers in order once their window (`windowUs` after
 * their first copy, or for a number no leg brought, after the next one that
 * came) has passed: the legs missing from an entry lost it, and another leg
 * repaired it unless none brought it (lost on every leg: an unrecoverable
 * gap). A copy is either judged before its window closes or counted late,
 * never both, so what is sent and what is counted agree exactly.
 *
 * A number ahead of the highest one by more than AHEAD_FREE is taken only if
 * time explains it: the highest one stood still about as long as the gap
 * lasts, or the leg's own last accepted number is about that long ago (a
 * leg that lost a stretch, or leads the others, comes back where its sender
 * is); half the time its numbers take at the measured rate is enough. A
 * forged number ahead is refused rather than let pull the window away from
 * the real stream.
 *
 * Restarts (a new SSRC, a jump further than half the table, or numbers behind
 * the judged edge once the sequence has stood still two windows: a sender
 * that started again from an earlier number) are followed
 * once a leg brings two consecutive packets of the new sequence AND the old
 * one has not moved on for RESYNC_STALL_US: a forged or
 * replayed packet far from the window, or a leg that carries another
 * stream, is rejected and counted, never followed while the real sequence
 * still moves.
 */
import { L, LEG_BASE, LEG_FIGURES, M } from "./merge_slots.ts";
import type { BlockViews } from "./merge_slots.ts";

/** The old sequence must have sent nothing this long before a restart is followed. */
export const RESYNC_STALL_US = 20_000;
/** Consecutive packets that prove a restart. */
export const RESYNC_PACKETS = 2;
/** A gap ahead this small is taken at once (a loss burst on every leg). */
export const AHEAD_FREE = 32;

const STARTED = M.started;
const MAX = M.max_ext;
const CURSOR = M.cursor;
const HINT = M.hint;
const LAST_CLAIM = M.last_claim_us;
const ADVANCED = M.advanced_us;
const INTERVAL = M.interval_us;
const SSRC = M.ssrc;
const FORWARDED = M.forwarded;
const DUPLICATES = M.duplicates;
const LATE = M.late;
const LOST = M.lost;
const LOST_SINGLE = M.lost_single;
const LOST_MULTI = M.lost_multi;
const REJECTED = M.rejected;
const RESYNCS = M.resyncs;
const OVERFLOWS = M.window_overflows;
const LEG0 = LEG_BASE;
const LEG_W = LEG_FIGURES;
const L_FIRST = L.first;
const L_DUP = L.duplicates;
const L_LATE = L.late;
const L_LOST = L.lost;
const L_RECOVERED = L.recovered;
const L_REJECTED = L.rejected;
const L_PD = L.pd_us;
const L_PD_MAX = L.pd_max_us;
const L_SEQ = L.seq;
const L_CANDIDATE = L.candidate;
const L_CANDIDATE_SSRC = L.candidate_ssrc;
const L_CANDIDATE_COUNT = L.candidate_count;
const L_EXT = L.ext;
const L_ACCEPTED = L.accepted_us;

export class SequenceMerge {
  readonly f: Float64Array;
  readonly tags: Float64Array;
  readonly first: Float64Array;
  readonly info: Int32Array;
  readonly size: number;
  readonly allLegs: number;
  /** Further ahead than this is a jump (a restart candidate), not a gap. */
  readonly jump: number;
  /** How long the sequence must stand still before a number behind it may restart it. */
  readonly behindStallUs: number;
  /** The number the last datagram admitted claimed (valid after admit() returned true). */
  lastExt = -1;

  constructor(
    views: BlockViews,
    readonly legs: number,
    /** 65536 for a 16-bit sequence number, 2^32 for a 4- or 8-byte one. */
    readonly modulus: number,
    readonly windowUs: number,
    /**
     * Called with each claimed number as its window closes, in sequence
     * order (resequencing sends it then), with the legs that brought it.
     */
    readonly onJudged: ((ext: number, mask: number) => void) | null = null,
  ) {
    this.f = views.figures;
    this.tags = views.tags;
    this.first = views.first;
    this.info = views.info;
    this.size = views.tags.length;
    this.allLegs = (1 << legs) - 1;
    this.jump = Math.min(this.size, modulus) / 2;
    this.behindStallUs = Math.max(RESYNC_STALL_US, 2 * windowUs);
  }

  /** The signed distance from `max`'s raw number to `seq`, in the key's modulus. */
  diff(seq: number, max: number): number {
    const d = seq - (max % this.modulus);
    return this.modulus === 65536 ? (d << 16) >> 16 : d | 0;
  }

  /**
   * One datagram on `leg` carrying `seq` and covering `count` numbers (1, or
   * a message count); `ssrc` when the key has one (else -1). True: send it.
   */
  admit(leg: number, seq: number, count: number, ssrc: number, now: number): boolean {
    const f = this.f;
    const row = LEG0 + leg * LEG_W;
    if (f[STARTED] === 0) {
      f[SSRC] = ssrc;
      this.#restart(seq, now, false);
    } else if (ssrc !== f[SSRC]) {
      return this.#far(leg, row, seq, count, ssrc, now);
    }
    this.judge(now);
    const max = f[MAX];
    const ext = max + this.diff(seq, max);
    const cursor = f[CURSOR];
    if (ext < cursor) {
      // Behind the judged edge: a late copy, unless the sequence has stood still longer than a
      // leg lagging two windows would keep bringing copies after the others stopped: then the
      // sender started again from an earlier number, a restart candidate.
      if (cursor - ext > this.size || now - f[ADVANCED] >= this.behindStallUs) {
        return this.#far(leg, row, seq, count, ssrc, now);
      }
      f[LATE] += 1;
      f[row + L_LATE] += 1;
      f[row + L_SEQ] = seq;
      return false;
    }
    const ahead = ext - max;
    if (ahead > this.jump) return this.#far(leg, row, seq, count, ssrc, now);
    if (ahead > AHEAD_FREE && !this.#plausible(row, ext, ahead, now)) {
      // Too far ahead for the time the sequence stood still: not a gap, a forged number.
      f[REJECTED] += 1;
      f[row + L_REJECTED] += 1;
      return false;
    }
    f[row + L_SEQ] = seq;
    f[row + L_CANDIDATE_COUNT] = 0;
    f[row + L_EXT] = ext;
    f[row + L_ACCEPTED] = now;
    return this.#claim(leg, row, ext, count, now);
  }

  /** Whether a number `ahead` of the highest one could be real: time since the sequence or its leg moved. */
  #plausible(row: number, ext: number, ahead: number, now: number): boolean {
    const f = this.f;
    const interval = f[INTERVAL];
    if (interval === 0 || now - f[ADVANCED] >= (ahead - AHEAD_FREE) * interval / 2) return true;
    const last = f[row + L_EXT];
    return last >= 0 && ext - last <= AHEAD_FREE + 2 * (now - f[row + L_ACCEPTED]) / interval;
  }

  #claim(leg: number, row: number, ext: number, count: number, now: number): boolean {
    const f = this.f;
    const end = ext + count - 1;
    // The entry must not hold a number still to be judged: judge early (the rate is above the table's).
    if (end - f[CURSOR] >= this.size) this.judgeUpTo(end - this.size + 1, true);
    const i = ext % this.size;
    const bit = 1 << leg;
    if (this.tags[i] === ext) {
      this.info[i] |= bit;
      f[DUPLICATES] += 1;
      f[row + L_DUP] += 1;
      const pd = now - this.first[i];
      f[row + L_PD] = pd;
      if (pd > f[row + L_PD_MAX]) f[row + L_PD_MAX] = pd;
      return false;
    }
    this.tags[i] = ext;
    this.first[i] = now;
    this.info[i] = bit | (count << 8);
    this.lastExt = ext;
    f[FORWARDED] += 1;
    f[row + L_FIRST] += 1;
    f[row + L_PD] = 0;
    const max = f[MAX];
    if (end > max) {
      // The time per number as the sequence moves on (a 1/16 moving average).
      const sample = (now - f[ADVANCED]) / (end - max);
      f[INTERVAL] = f[INTERVAL] === 0 ? sample : f[INTERVAL] + (sample - f[INTERVAL]) / 16;
      f[MAX] = end;
      f[ADVANCED] = now;
    }
    f[LAST_CLAIM] = now;
    // A repair inside a gap the cursor waits on: find the gap's end again.
    if (f[HINT] !== 0 && ext < f[HINT]) f[HINT] = 0;
    return true;
  }

  /**
   * A packet far from the window, or of another SSRC: a restart candidate on
   * its leg. Followed when the leg brings RESYNC_PACKETS consecutive ones and
   * the current sequence has stalled; else rejected.
   */
  #far(leg: number, row: number, seq: number, count: number, ssrc: number, now: number): boolean {
    const f = this.f;
    const consecutive = f[row + L_CANDIDATE_COUNT] > 0 && seq === f[row + L_CANDIDATE] &&
      ssrc === f[row + L_CANDIDATE_SSRC];
    f[row + L_CANDIDATE_COUNT] = consecutive ? f[row + L_CANDIDATE_COUNT] + 1 : 1;
    f[row + L_CANDIDATE] = (seq + count) % this.modulus;
    f[row + L_CANDIDATE_SSRC] = ssrc;
    f[row + L_SEQ] = seq;
    if (f[row + L_CANDIDATE_COUNT] >= RESYNC_PACKETS && now - f[ADVANCED] >= RESYNC_STALL_US) {
      f[SSRC] = ssrc;
      this.#restart(seq, now, true);
      f[row + L_EXT] = f[CURSOR];
      f[row + L_ACCEPTED] = now;
      return this.#claim(leg, row, f[CURSOR], count, now);
    }
    f[REJECTED] += 1;
    f[row + L_REJECTED] += 1;
    return false;
  }

  /** Starts (again) at `seq`: what the old sequence left is judged, the table emptied. */
  #restart(seq: number, now: number, counted: boolean): void {
    const f = this.f;
    if (counted) {
      this.judgeUpTo(f[MAX] + 1, false);
      f[RESYNCS] += 1;
    }
    this.tags.fill(-1);
    f[STARTED] = 1;
    f[CURSOR] = seq;
    f[MAX] = seq - 1;
    f[HINT] = 0;
    f[LAST_CLAIM] = now;
    f[ADVANCED] = now;
    f[INTERVAL] = 0;
    for (let l = 0; l < this.legs; l++) {
      f[LEG0 + l * LEG_W + L_CANDIDATE_COUNT] = 0;
      f[LEG0 + l * LEG_W + L_EXT] = -1;
    }
  }

  /** Judges every number whose window has closed by `now`. */
  judge(now: number): void {
    const f = this.f;
    const w = this.windowUs;
    const size = this.size;
    let cursor = f[CURSOR];
    const max = f[MAX];
    while (cursor <= max) {
      const i = cursor % size;
      if (this.tags[i] === cursor) {
        if (now - this.first[i] < w) break;
        cursor += this.#judgeClaimed(cursor, i);
        continue;
      }
      // No leg brought it (yet): it was due when the next number that came did.
      let y = f[HINT];
      if (y <= cursor) {
        y = this.#nextClaimed(cursor + 1, max);
        f[HINT] = y;
      }
      if (y > max || now - this.first[y % size] < w) break;
      this.#account(0, y - cursor);
      cursor = y;
    }
    f[CURSOR] = cursor;
  }

  /** Judges every number below `limit` now, whatever its window (a restart, a full table). */
  judgeUpTo(limit: number, overflow: boolean): void {
    const f = this.f;
    let cursor = f[CURSOR];
    const start = cursor;
    while (cursor < limit) {
      const i = cursor % this.size;
      if (this.tags[i] === cursor) {
        cursor += this.#judgeClaimed(cursor, i);
      } else {
        const y = Math.min(this.#nextClaimed(cursor + 1, limit - 1), limit);
        this.#account(0, y - cursor);
        cursor = y;
      }
    }
    if (overflow) f[OVERFLOWS] += cursor - start;
    f[CURSOR] = cursor;
    f[HINT] = 0;
  }

  /**
   * When the next number is due to be judged (µs): its first copy's arrival
   * plus the window, or for a gap the next claimed number's; Infinity when
   * nothing waits.
   */
  nextDueUs(): number {
    const f = this.f;
    const cursor = f[CURSOR];
    if (f[STARTED] === 0 || cursor > f[MAX]) return Infinity;
    const i = cursor % this.size;
    if (this.tags[i] === cursor) return this.first[i] + this.windowUs;
    const y = f[HINT] > cursor ? f[HINT] : this.#nextClaimed(cursor + 1, f[MAX]);
    return y > f[MAX] ? Infinity : this.first[y % this.size] + this.windowUs;
  }

  /** Judges the claimed number at the cursor (entry i): its legs' losses, then onJudged. Returns the numbers it covers. */
  #judgeClaimed(cursor: number, i: number): number {
    const inf = this.info[i];
    const c = inf >>> 8;
    this.#account(inf & 0xff, c);
    this.f[CURSOR] = cursor + c;
    this.onJudged?.(cursor, inf & 0xff);
    return c;
  }

  /** The first number from `from` to `max` whose entry holds it (max + 1: none). */
  #nextClaimed(from: number, max: number): number {
    const size = this.size;
    for (let p = from; p <= max; p++) if (this.tags[p % size] === p) return p;
    return max + 1;
  }

  /** `count` numbers judged, brought by the legs in `mask`. */
  #account(mask: number, count: number): void {
    if (mask === this.allLegs) return;
    const f = this.f;
    let missing = 0;
    for (let l = 0; l < this.legs; l++) {
      if ((mask & (1 << l)) !== 0) continue;
      missing++;
      const row = LEG0 + l * LEG_W;
      f[row + L_LOST] += count;
      if (mask !== 0) f[row + L_RECOVERED] += count;
    }
    if (mask === 0) f[LOST] += count;
    if (missing >= 2) f[LOST_MULTI] += count;
    else f[LOST_SINGLE] += count;
  }
}
