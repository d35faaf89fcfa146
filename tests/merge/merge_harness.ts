/**
 * Drives a merge the way the loop does, from a script of legs: datagram i
 * is sent at i * intervalUs on every leg, arrives after the leg's delay
 * unless the leg's drop set holds it, and the copies are handed to the
 * merge in arrival order. What was sent (by sequence index) is recorded.
 */
import { MergeLeg, MergePair, type MergePlan } from "../../src/merge/merge_stage.ts";
import { admitDatagram } from "../../src/merge/merge_stage.ts";
import { blockViews, L, LEG_BASE, LEG_FIGURES, M, newBlock } from "../../src/merge/merge_slots.ts";
import { lossSequence } from "../../src/tools/legs.ts";

export interface LegScript {
  delayUs: number;
  drops?: ReadonlySet<number>;
  /** Extra jitter per datagram (µs), deterministic. */
  jitterUs?: (i: number) => number;
}

export function plan(
  over: Omit<Partial<MergePlan>, "legs"> & { legs?: number } = {},
): MergePlan {
  const tableSize = over.tableSize ?? 16384;
  const key = over.key ?? "rtp";
  const legs = typeof over.legs === "number" ? over.legs : 2;
  return {
    block: newBlock(tableSize, key === "hash"),
    tableSize,
    epoch: 1,
    key,
    seqOffset: 0,
    seqWidth: 2,
    seqLittle: false,
    countOffset: 0,
    countWidth: 0,
    countLittle: false,
    mode: "pass-through",
    windowUs: 450_000,
    delayUs: 50_000,
    primary: 0,
    holdOffUs: 200_000,
    clearUs: 5_000_000,
    owner: -1,
    ...over,
    legCount: legs,
    legs: Array.from({ length: legs }, (_, leg) => ({
      leg,
      ifindex: 1,
      family: 4 as const,
      dst: [0],
      port: 1,
      srcAddr: [0],
      srcMask: [0],
      srcPrefix: 0,
      vlan: 0,
    })),
  };
}

/** An RTP datagram: version 2, `seq`, `ts`, `ssrc`, then `payload` bytes of `fill`. */
export function rtp(seq: number, ssrc = 0x1234, payload = 20, fill = 0): Uint8Array {
  const b = new Uint8Array(12 + payload).fill(fill);
  const v = new DataView(b.buffer);
  v.setUint8(0, 0x80);
  v.setUint8(1, 33);
  v.setUint16(2, seq & 0xffff);
  v.setUint32(4, (seq * 90) >>> 0);
  v.setUint32(8, ssrc >>> 0);
  return b;
}

export class Harness {
  readonly pair: MergePair;
  readonly legs: MergeLeg[];
  readonly sent: number[] = [];
  readonly f: Float64Array;

  constructor(readonly p: MergePlan) {
    this.pair = new MergePair(p);
    this.legs = p.legs.map((_, i) => new MergeLeg(this.pair, i));
    this.f = blockViews(p.block, p.tableSize).figures;
  }

  /** One datagram on `leg` at `now`; `id` is recorded when it is sent. */
  offer(leg: number, bytes: Uint8Array, now: number, id: number): boolean {
    const ok = admitDatagram(
      this.legs[leg],
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      0,
      bytes.byteLength,
      now,
    );
    if (ok) this.sent.push(id);
    return ok;
  }

  /** Runs `count` datagrams (made by `make(i)`) over the legs' scripts; returns the last arrival time. */
  run(
    count: number,
    intervalUs: number,
    legs: LegScript[],
    make: (i: number) => Uint8Array,
    t0 = 1e12,
  ): number {
    const events: { at: number; leg: number; i: number }[] = [];
    legs.forEach((l, leg) => {
      for (let i = 0; i < count; i++) {
        if (l.drops?.has(i)) continue;
        events.push({ at: t0 + i * intervalUs + l.delayUs + (l.jitterUs?.(i) ?? 0), leg, i });
      }
    });
    events.sort((a, b) => a.at - b.at || a.leg - b.leg);
    for (const e of events) this.offer(e.leg, make(e.i), e.at, e.i);
    return events.length > 0 ? events[events.length - 1].at : t0;
  }

  pairFigure(name: keyof typeof M): number {
    return this.f[M[name]];
  }

  legFigure(leg: number, name: keyof typeof L): number {
    return this.f[LEG_BASE + leg * LEG_FIGURES + L[name]];
  }
}

/** A deterministic pseudo-random sequence in [0, 1): the generator's (src/tools/legs.ts). */
export const random = lossSequence;

/** `n` indexes below `count` with probability `p` each. */
export function drops(count: number, p: number, seed: number): Set<number> {
  const r = random(seed);
  const out = new Set<number>();
  for (let i = 0; i < count; i++) if (r() < p) out.add(i);
  return out;
}
