/**
 * The test signal's RTP (RFC 3550): the header of datagram k, its sequence
 * number and timestamp, the segments a sender restart (fault ssrc) starts and
 * the sequence jumps (fault seq-jump), and the payload of an `rtp` signal.
 * Imports only signal_params.ts (and the types of signal_faults.ts).
 *
 * 12-byte header: version 2, no padding, no CSRC, marker 0, payload type 33
 * (MP2T) for rtp+ts or 96 for rtp, sequence number rtpSeq + k (mod 2^16),
 * timestamp rtpTimestamp + floor(k * 90000 / datagram rate) (mod 2^32), SSRC
 * `ssrc`. With `rtpExtension` the X bit is set and an 8-byte extension block
 * follows: profile 0xBEDE (RFC 8285 one-byte elements), length 1 word, one
 * element ID 1 of 3 bytes holding k mod 2^24 (mcr's own: the datagram index).
 * The `rtp` payload is filler (byte i = i & 0xff) up to `size` bytes.
 */
import type { RtpFaults, SignalInjected } from "./signal_faults.ts";
import { SIGNAL } from "./signal_params.ts";

/** Bytes of the RTP header, with or without the extension block. */
export function rtpHeaderBytes(extension: boolean): number {
  return SIGNAL.RTP_HEADER + (extension ? SIGNAL.RTP_EXTENSION : 0);
}

/** The `rtp` signal's payload: byte i = i & 0xff. */
export function rtpFiller(length: number): Uint8Array {
  const filler = new Uint8Array(length);
  for (let i = 0; i < filler.length; i++) filler[i] = i & 0xff;
  return filler;
}

/** A 32-bit mix (splitmix-like) for the values a restart draws, deterministically. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export interface RtpStart {
  ssrc: number;
  /** Sequence number and timestamp of datagram 0. */
  seq: number;
  timestamp: number;
  extension: boolean;
  payloadType: number;
  datagramRate: number;
  /** Seeds the values a restart draws. */
  seed: number;
}

/** Writes the RTP header of datagram k; allocates nothing. */
export class RtpWriter {
  readonly #extension: boolean;
  readonly #payloadType: number;
  /** 90 kHz RTP ticks per datagram. */
  readonly #ticksPerDatagram: number;
  /** RTP segments (a restart starts one) and sequence jumps, in datagram order. */
  readonly #segFrom: number[] = [0];
  readonly #segSsrc: number[];
  readonly #segSeq: number[];
  readonly #segTimestamp: number[];
  readonly #jumpFrom: number[] = [];
  readonly #jumpBy: number[] = [];

  constructor(start: RtpStart, faults: RtpFaults) {
    this.#extension = start.extension;
    this.#payloadType = start.payloadType;
    this.#ticksPerDatagram = 90000 / start.datagramRate;
    // RTP segments: each restart draws a new SSRC, sequence start and timestamp start.
    this.#segSsrc = [start.ssrc];
    this.#segSeq = [start.seq];
    this.#segTimestamp = [start.timestamp];
    for (const at of faults.restarts) {
      const r = mix32(start.seed ^ Math.imul(at + 1, 0x9e3779b1));
      let ssrc = mix32(r ^ 0x5a5a5a5a);
      if (ssrc === this.#segSsrc[this.#segSsrc.length - 1]) ssrc = (ssrc + 1) >>> 0;
      this.#segFrom.push(at);
      this.#segSsrc.push(ssrc);
      this.#segSeq.push(r & 0xffff);
      this.#segTimestamp.push(mix32(r ^ 0x3c3c3c3c));
    }
    for (const j of faults.jumps) {
      this.#jumpFrom.push(j.at);
      this.#jumpBy.push(j.by);
    }
  }

  /** Writes datagram k's header at out[p..] and returns where the payload starts. */
  write(k: number, out: Uint8Array, p: number): number {
    let seg = this.#segFrom.length - 1;
    while (this.#segFrom[seg] > k) seg--;
    const from = this.#segFrom[seg];
    let seq = this.#segSeq[seg] + (k - from);
    for (let i = 0; i < this.#jumpFrom.length && this.#jumpFrom[i] <= k; i++) {
      if (this.#jumpFrom[i] >= from) seq += this.#jumpBy[i];
    }
    seq = ((seq % 65536) + 65536) % 65536;
    const ts = (this.#segTimestamp[seg] + Math.floor(k * this.#ticksPerDatagram)) % 4294967296;
    const ssrc = this.#segSsrc[seg];
    out[p] = this.#extension ? 0x90 : 0x80; // V=2, P=0, X, CC=0
    out[p + 1] = this.#payloadType; // M=0
    out[p + 2] = seq >>> 8;
    out[p + 3] = seq & 0xff;
    out[p + 4] = ts >>> 24;
    out[p + 5] = (ts >>> 16) & 0xff;
    out[p + 6] = (ts >>> 8) & 0xff;
    out[p + 7] = ts & 0xff;
    out[p + 8] = ssrc >>> 24;
    out[p + 9] = (ssrc >>> 16) & 0xff;
    out[p + 10] = (ssrc >>> 8) & 0xff;
    out[p + 11] = ssrc & 0xff;
    if (!this.#extension) return p + 12;
    out[p + 12] = 0xbe; // profile 0xBEDE: RFC 8285 one-byte elements
    out[p + 13] = 0xde;
    out[p + 14] = 0x00; // length: 1 word follows
    out[p + 15] = 0x01;
    out[p + 16] = 0x12; // element ID 1, 3 bytes: the datagram index
    out[p + 17] = (k >>> 16) & 0xff;
    out[p + 18] = (k >>> 8) & 0xff;
    out[p + 19] = k & 0xff;
    return p + 20;
  }

  /** The restarts after datagram 0 (report `ssrc`), or undefined without any. */
  restarts(): SignalInjected["ssrc"] {
    if (this.#segFrom.length <= 1) return undefined;
    return this.#segFrom.slice(1).map((from, i) => ({
      from,
      ssrc: this.#segSsrc[i + 1],
      seq: this.#segSeq[i + 1],
      timestamp: this.#segTimestamp[i + 1],
    }));
  }

  /** The sequence jumps (report `seq_jump`), or undefined without any. */
  jumps(): SignalInjected["seq_jump"] {
    if (this.#jumpFrom.length === 0) return undefined;
    return this.#jumpFrom.map((from, i) => ({ from, by: this.#jumpBy[i] }));
  }
}
