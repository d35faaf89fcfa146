/**
 * One stream sent on two or more legs (`mcr gen --leg ...`): the ground
 * truth for merges (src/merge/). Datagram k is due on every leg at
 * k / rate + the leg's delay, and is sent there unless the leg's drop set
 * holds k: independent drop lists (listed, or random at a given loss with a
 * seed) and a delay per leg, all in user space (tc netem is not built into
 * every kernel). The datagrams are a test signal (RTP, MPEG-TS) or numbered
 * datagrams (src/tools/payload.ts, with their send time), identical on
 * every leg.
 */
import { UDP_BATCH, UdpSender } from "../../ffi/udp.ts";
import { RealtimeClock } from "../../ffi/process.ts";
import type { IpAddress } from "../net/address.ts";
import { buildPayload, SENT_OFFSET, SEQ_OFFSET } from "./payload.ts";
import { type IndexRange, IndexSet } from "./signal_faults.ts";
import { type GenOptions, type GenResult, signalResult } from "./gen.ts";

export interface LegSpec {
  destination: IpAddress;
  port: number;
  /** Source address (bound), or null for the routing table's choice. */
  source: IpAddress | null;
  ifindex: number;
  /** Datagram indices not sent on this leg. */
  drops: IndexRange[];
  /** Random loss on this leg: each datagram dropped with this probability (after `drops`). */
  loss?: { probability: number; seed: number };
  delayMs: number;
}

export interface LegResult {
  sent: number;
  /** The indices this leg did not send (its drop list and its random loss), as ranges. */
  dropped: IndexRange[];
  dropped_count: number;
}

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32). */
export function lossSequence(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The full drop set of a leg over `count` datagrams: its list plus its random loss. */
export function legDrops(leg: LegSpec, count: number): IndexRange[] {
  const listed = new IndexSet(leg.drops);
  const out: [number, number][] = [];
  const next = leg.loss ? lossSequence(leg.loss.seed) : null;
  for (let k = 0; k < count; k++) {
    // The random draw is taken for every index, so one seed gives one list whatever else is dropped.
    const lost = next !== null && next() < leg.loss!.probability;
    if (!lost && !listed.has(k)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === k - 1) last[1] = k;
    else out.push([k, k]);
  }
  return out;
}

/** One leg's socket, queue and progress. */
class Lane {
  readonly sender: UdpSender;
  readonly to: Uint8Array;
  readonly drops: IndexSet;
  readonly buffer: Uint8Array;
  readonly lengths: Int32Array;
  queued = 0;
  next = 0;
  sent = 0;
  errors = 0;

  constructor(readonly leg: LegSpec, readonly dropped: IndexRange[], ttl: number, size: number) {
    this.sender = UdpSender.open(leg.destination.family, leg.source, leg.ifindex, ttl, "leg");
    this.to = this.sender.destination(leg.destination, leg.port);
    this.drops = new IndexSet(dropped);
    this.buffer = new Uint8Array(UDP_BATCH * size);
    this.lengths = new Int32Array(UDP_BATCH).fill(size);
  }

  /** Sends what is queued; false if the socket failed (what is left stays queued). */
  flush(size: number): boolean {
    while (this.queued > 0) {
      const rc = this.sender.sendPayloads(this.to, this.buffer, this.lengths, this.queued);
      if (rc < 0) {
        if (++this.errors > 1000) throw new Error(`sending failed repeatedly (errno ${-rc})`);
        return false;
      }
      this.sent += rc;
      this.buffer.copyWithin(0, rc * size, this.queued * size);
      this.queued -= rc;
    }
    return true;
  }
}

/** Sends `o`'s stream on every leg of `legs`; `o.destination`, `o.source` and `o.ifindex` are not used. */
export async function generateLegs(
  o: GenOptions,
  legs: readonly LegSpec[],
): Promise<GenResult & { legs: LegResult[] }> {
  const signal = o.signal;
  const rate = signal?.datagramRate ?? o.rate;
  const size = signal?.datagramSize ?? o.size;
  const count = signal?.count ?? o.count;
  const template = signal ? null : buildPayload(o.runId, size);
  const clock = new RealtimeClock();
  const lanes = legs.map((l) => new Lane(l, legDrops(l, count), o.ttl, size));
  const batch = Math.max(1, Math.min(UDP_BATCH - 2, Math.floor(rate / 1000)));
  /** Writes datagram k at the lane's queue end (twice when the signal duplicates it). */
  const queue = (lane: Lane, k: number) => {
    if (lane.drops.has(k) || signal?.dropped(k)) return;
    const off = lane.queued * size;
    if (signal) signal.build(k, lane.buffer, off);
    else {
      lane.buffer.set(template!, off);
      const view = new DataView(lane.buffer.buffer, off, size);
      view.setUint32(SEQ_OFFSET, Math.floor(k / 4294967296));
      view.setUint32(SEQ_OFFSET + 4, k >>> 0);
      const us = clock.nowUs();
      view.setUint32(SENT_OFFSET, Math.floor(us / 1e6));
      view.setUint32(SENT_OFFSET + 4, (us % 1e6) * 1000);
    }
    lane.queued++;
    if (signal?.duplicated(k)) {
      lane.buffer.copyWithin(lane.queued * size, off, off + size);
      lane.queued++;
    }
  };
  const start = performance.now();
  try {
    for (;;) {
      const elapsed = (performance.now() - start) / 1000;
      let waitMs = Infinity;
      for (const lane of lanes) {
        const t = elapsed - lane.leg.delayMs / 1000;
        const due = t < 0 ? 0 : Math.min(count, Math.floor(t * rate) + 1);
        while (lane.next < due && lane.queued + 2 <= UDP_BATCH) {
          queue(lane, lane.next++);
          if (lane.queued >= batch && !lane.flush(size)) break;
        }
        lane.flush(size);
        if (lane.next < count) waitMs = Math.min(waitMs, ((lane.next + 1) / rate - t) * 1000);
      }
      if (lanes.every((l) => l.next >= count && l.queued === 0)) break;
      if (waitMs > 2) await new Promise((r) => setTimeout(r, Math.min(waitMs - 1, 50)));
      else if (lanes.some((l) => l.queued > 0)) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    for (const lane of lanes) lane.sender.close();
  }
  const elapsed = (performance.now() - start) / 1000;
  const sent = lanes.reduce((n, l) => n + l.sent, 0);
  return {
    sent,
    elapsed_s: +elapsed.toFixed(3),
    rate_pps: Math.round(count / Math.max(elapsed, 1e-9)),
    target_pps: +rate.toFixed(3),
    size,
    run_id: o.runId,
    send_errors: lanes.reduce((n, l) => n + l.errors, 0),
    ...(signal ? { signal: signalResult(signal) } : {}),
    legs: lanes.map((l) => ({
      sent: l.sent,
      dropped: l.dropped,
      dropped_count: l.dropped.reduce((n, [a, b]) => n + b - a + 1, 0),
    })),
  };
}
