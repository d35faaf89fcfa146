/**
 * Stage "merge" of the forwarding loop, for merge rules: after a leg's
 * datagram is matched, its key is read from the UDP payload (RTP sequence
 * number and SSRC, a sequence number at an offset, or a payload hash) and
 * the pair's merge says whether it is sent (sequence_merge.ts,
 * hash_merge.ts, failover.ts). Every leg of a pair is a rule of its own in
 * the worker's tables, sharing the pair's MergePair. Allocation-free per
 * datagram.
 *
 * Resequencing: the first copy of each datagram is copied into the pair's
 * hold area (worker arena memory, HoldArea) and sent when its window,
 * delay_ms, closes, in sequence order: the sequence merge judges numbers in
 * order, and the pair's `release` (set by the worker's loop) sends the held
 * frame then; a number no leg brought is skipped when its window closes.
 */
import { Failover } from "./failover.ts";
import { HashMerge, payloadHash } from "./hash_merge.ts";
import { blockViews, L, LEG_BASE, LEG_FIGURES, M } from "./merge_slots.ts";
import { SequenceMerge } from "./sequence_merge.ts";

/** How one leg's datagrams are matched (the rule's own input fields are its first leg's). */
export interface LegInputPlan {
  ifindex: number;
  family: 4 | 6;
  dst: number[];
  port: number;
  srcAddr: number[];
  srcMask: number[];
  srcPrefix: number;
  vlan: number;
}

/** What a worker is told about a merge rule (a part of its RulePlan). */
export interface MergePlan {
  /** The pair's block (merge_slots.ts): made by the supervisor, kept across plans and workers. */
  block: SharedArrayBuffer;
  tableSize: number;
  /** Which block it is (a new one starts the merge afresh): part of the rule plan's identity. */
  epoch: number;
  /** How many legs the merge has (some may be absent: their interface is missing). */
  legCount: number;
  /** The legs planned now (their interface exists), each with its index among all legs. */
  legs: (LegInputPlan & { leg: number })[];
  key: "rtp" | "sequence" | "hash";
  seqOffset: number;
  /** 2, 4 or 8 bytes (8: its low 32 bits). */
  seqWidth: number;
  seqLittle: boolean;
  /** The message count's offset and width (0: each datagram advances the sequence by 1). */
  countOffset: number;
  countWidth: number;
  countLittle: boolean;
  mode: "pass-through" | "resequence" | "failover";
  windowUs: number;
  /** resequence: how long every datagram is held (µs). */
  delayUs: number;
  primary: number;
  holdOffUs: number;
  clearUs: number;
  /** With several workers: the one that merges the pair (its legs' rings are its own); -1: any. */
  owner: number;
}

const KEY_RTP = 0;
const KEY_SEQUENCE = 1;
const KEY_HASH = 2;

const LEG0 = LEG_BASE;
const LEG_W = LEG_FIGURES;
const L_PACKETS = L.packets;
const L_BYTES = L.bytes;
const L_LAST = L.last_us;
const L_REJECTED = L.rejected;
const REJECTED = M.rejected;
const FORWARDED = M.forwarded;
const HEARTBEAT_SEQ = M.heartbeat_seq;
const HEARTBEAT_US = M.heartbeat_us;

/** Arena memory a resequencing pair holds frames in: `slots` of `slotSize` bytes at `offset`. */
export interface HoldArea {
  offset: number;
  slots: number;
  slotSize: number;
}

/** Sends a held frame: its leg, where it is, its length, ring status, VLAN and arrival. */
export type Release = (
  leg: number,
  offset: number,
  len: number,
  status: number,
  vid: number,
  arrivalUs: number,
) => void;

/** One pair in one worker: its block's views and the merge that decides. */
export class MergePair {
  readonly f: Float64Array;
  readonly key: number;
  readonly seqOffset: number;
  readonly seqWidth: number;
  readonly seqLittle: boolean;
  readonly countOffset: number;
  readonly countWidth: number;
  readonly countLittle: boolean;
  /** Payload bytes a datagram needs for its key. */
  readonly need: number;
  readonly windowUs: number;
  readonly sequence: SequenceMerge | null = null;
  readonly hash: HashMerge | null = null;
  readonly failover: Failover | null = null;
  /** resequence: where frames wait, and what each slot holds (-1: nothing). */
  readonly hold: HoldArea | null = null;
  readonly heldExt: Float64Array;
  readonly heldLen: Int32Array;
  readonly heldLeg: Int32Array;
  readonly heldStatus: Int32Array;
  readonly heldVid: Int32Array;
  readonly heldArrival: Float64Array;
  /** Sends a held frame (set by the loop that owns the arena); null until then. */
  release: Release | null = null;

  constructor(plan: MergePlan, hold: HoldArea | null = null) {
    const views = blockViews(plan.block, plan.tableSize);
    this.f = views.figures;
    this.key = plan.key === "rtp" ? KEY_RTP : plan.key === "sequence" ? KEY_SEQUENCE : KEY_HASH;
    this.seqOffset = plan.seqOffset;
    this.seqWidth = plan.seqWidth;
    this.seqLittle = plan.seqLittle;
    this.countOffset = plan.countOffset;
    this.countWidth = plan.countWidth;
    this.countLittle = plan.countLittle;
    this.windowUs = plan.windowUs;
    this.need = this.key === KEY_RTP
      ? 12
      : this.key === KEY_SEQUENCE
      ? Math.max(plan.seqOffset + plan.seqWidth, plan.countOffset + plan.countWidth)
      : 0;
    const modulus = this.key === KEY_RTP || plan.seqWidth === 2 ? 65536 : 4294967296;
    const legs = plan.legCount;
    if (plan.mode === "failover") {
      this.failover = new Failover(
        views,
        legs,
        plan.primary,
        plan.holdOffUs,
        plan.clearUs,
        this.key === KEY_HASH ? 0 : modulus,
      );
    } else if (this.key === KEY_HASH) {
      this.hash = new HashMerge(views, views.counts!, legs, plan.windowUs);
    } else if (plan.mode === "resequence" && hold !== null) {
      this.hold = hold;
      this.sequence = new SequenceMerge(
        views,
        legs,
        modulus,
        plan.delayUs,
        (ext) => this.#released(ext),
      );
    } else {
      this.sequence = new SequenceMerge(views, legs, modulus, plan.windowUs);
    }
    const slots = this.hold?.slots ?? 0;
    this.heldExt = new Float64Array(slots).fill(-1);
    this.heldLen = new Int32Array(slots);
    this.heldLeg = new Int32Array(slots);
    this.heldStatus = new Int32Array(slots);
    this.heldVid = new Int32Array(slots);
    this.heldArrival = new Float64Array(slots);
  }

  /** Keeps the frame of the number just claimed until its window closes. */
  holdFrame(
    bytes: Uint8Array,
    leg: number,
    mac: number,
    len: number,
    status: number,
    vid: number,
    now: number,
  ): void {
    const h = this.hold!;
    const seq = this.sequence!;
    const ext = seq.lastExt;
    const slot = ext % h.slots;
    // The slot still holds a number not sent: more is waiting than the area holds (the rate
    // is above what it was sized for): everything up to that number is judged (sent) now.
    if (this.heldExt[slot] >= 0) {
      seq.judgeUpTo(this.heldExt[slot] + 1, true);
    }
    if (len > h.slotSize) return; // cannot be held: lost (never: slots take the input's MTU)
    bytes.copyWithin(h.offset + slot * h.slotSize, mac, mac + len);
    this.heldExt[slot] = ext;
    this.heldLen[slot] = len;
    this.heldLeg[slot] = leg;
    this.heldStatus[slot] = status;
    this.heldVid[slot] = vid;
    this.heldArrival[slot] = now;
  }

  /** A claimed number's window closed: its held frame goes out. */
  #released(ext: number): void {
    const h = this.hold!;
    const slot = ext % h.slots;
    if (this.heldExt[slot] !== ext) return;
    this.heldExt[slot] = -1;
    this.release?.(
      this.heldLeg[slot],
      h.offset + slot * h.slotSize,
      this.heldLen[slot],
      this.heldStatus[slot],
      this.heldVid[slot],
      this.heldArrival[slot],
    );
  }
}

/**
 * Judges what the pair's window has closed on by `now` (µs) although no
 * datagram came since: called about once a second by the worker, so the
 * last losses of a stream that stopped are counted too.
 */
export function judgeIdle(p: MergePair, now: number): void {
  p.sequence?.judge(now);
}

/** One leg of a pair, as a rule of the worker's tables holds it. */
export class MergeLeg {
  constructor(readonly pair: MergePair, readonly leg: number) {}
}

/**
 * The merge's verdict on one datagram of `m`'s leg: `len` UDP payload bytes
 * at `off`, received at `now` (µs, the kernel's time). True: send it.
 */
export function admitDatagram(
  m: MergeLeg,
  view: DataView,
  off: number,
  len: number,
  now: number,
): boolean {
  const p = m.pair;
  const f = p.f;
  const leg = m.leg;
  const row = LEG0 + leg * LEG_W;
  f[row + L_PACKETS] += 1;
  f[row + L_BYTES] += len;
  const prevLast = f[row + L_LAST];
  f[row + L_LAST] = now;
  if (p.key === KEY_HASH) return p.hash!.admit(leg, payloadHash(view, off, len), now);
  let seq = -1;
  let count = 1;
  let ssrc = -1;
  if (len >= p.need && (p.key !== KEY_RTP || view.getUint8(off) >> 6 === 2)) {
    if (p.key === KEY_RTP) {
      seq = view.getUint16(off + 2);
      ssrc = view.getUint32(off + 8);
    } else {
      seq = readSequence(view, off + p.seqOffset, p.seqWidth, p.seqLittle);
      if (p.countWidth !== 0) {
        count = readCount(view, off + p.countOffset, p.countWidth, p.countLittle);
      }
    }
  }
  if (p.failover !== null) return p.failover.admit(leg, seq, count, prevLast, now);
  if (seq < 0) {
    f[REJECTED] += 1;
    f[row + L_REJECTED] += 1;
    return false;
  }
  if (count === 0) {
    // A heartbeat (no messages; it names the next sequence number): one copy per number.
    if (seq === f[HEARTBEAT_SEQ] && now - f[HEARTBEAT_US] < p.windowUs) return false;
    f[HEARTBEAT_SEQ] = seq;
    f[HEARTBEAT_US] = now;
    f[FORWARDED] += 1;
    return true;
  }
  return p.sequence!.admit(leg, seq, count, ssrc, now);
}

function readSequence(view: DataView, at: number, width: number, little: boolean): number {
  if (width === 2) return view.getUint16(at, little);
  if (width === 4) return view.getUint32(at, little);
  return little ? view.getUint32(at, true) : view.getUint32(at + 4);
}

function readCount(view: DataView, at: number, width: number, little: boolean): number {
  if (width === 1) return view.getUint8(at);
  if (width === 2) return view.getUint16(at, little);
  return view.getUint32(at, little);
}
