/**
 * Stage "merge" of the forwarding loop, for merge rules: after a leg's
 * datagram is matched, its key is read from the UDP payload (RTP sequence
 * number and SSRC, a sequence number at an offset, or a payload hash) and
 * the pair's merge says whether it is sent (sequence_merge.ts,
 * hash_merge.ts, failover.ts). Every leg of a pair is a rule of its own in
 * the worker's tables, sharing the pair's MergePair. Allocation-free per
 * datagram.
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

  constructor(plan: MergePlan) {
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
    } else {
      this.sequence = new SequenceMerge(views, legs, modulus, plan.windowUs);
    }
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
