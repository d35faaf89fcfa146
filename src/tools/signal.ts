/**
 * Test signals for `mcr gen --signal`: the payload of datagram k of an RTP
 * stream (RFC 3550), an RTP stream carrying MPEG-TS (RFC 2250, payload type
 * 33), or raw MPEG-TS in UDP (ISO/IEC 13818-1), with faults injected on
 * purpose so that stream-health checks have ground truth.
 *
 * Pure: no I/O, no clock, no randomness (the caller picks the random starts
 * and passes them in). Datagram k's bytes depend only on k and the options,
 * so any datagram can be built on its own, in any order.
 *
 * Hot path: `build(k, out, offset)` writes into the caller's buffer and
 * allocates nothing (templates are made once in the constructor, per-datagram
 * state lives in locals).
 *
 * This file is the public API (TestSignal, its options and the report) and
 * composes the parts, each documented in its own file:
 *
 *   signal_params.ts  the fixed parameters (SIGNAL), the modes, the datagram rate
 *   signal_ts.ts      the transport stream: schedule, packets, PCR, PES, TS faults
 *   signal_psi.ts     the PAT, PMT and CAT sections and their CRC
 *   signal_es.ts      the elementary streams: an H.264 frame, a silent AAC frame
 *   signal_rtp.ts     the RTP header, restarts (ssrc) and sequence jumps
 *   signal_faults.ts  the faults: kinds, parsing, index sets, checks, landing
 *
 * Importers use this file only; it re-exports what they need.
 */
import { type Fault, FaultPlan, type IndexSet, type SignalInjected } from "./signal_faults.ts";
import { SIGNAL, SIGNAL_MODES, type SignalMode, tsDatagramRate } from "./signal_params.ts";
import { rtpFiller, rtpHeaderBytes, RtpWriter } from "./signal_rtp.ts";
import { TsWriter } from "./signal_ts.ts";

export { adtsSilence, h264AccessUnit } from "./signal_es.ts";
export {
  type Fault,
  FAULT_KINDS,
  type FaultKind,
  type IndexRange,
  IndexSet,
  type ListFaultKind,
  parseFault,
  parseIndexList,
  type SignalInjected,
} from "./signal_faults.ts";
export { SIGNAL, SIGNAL_MODES, type SignalMode, tsDatagramRate } from "./signal_params.ts";
export { catSection, crc32Mpeg2, patSection, pmtSection } from "./signal_psi.ts";

// ---- options -------------------------------------------------------------------

export interface SignalOptions {
  mode: SignalMode;
  /** Datagrams before faults (the indices of faults are below it). */
  count: number;
  /** TS modes: bits per second of 188-byte packets (default 10 Mb/s). */
  bitrate?: number;
  /** TS modes: 188 (default) or 204. */
  tsSize?: 188 | 204;
  /** TS modes: a CAT on PID 1 every 500 ms. */
  cat?: boolean;
  /** rtp mode: datagrams per second (ts modes derive it from the bitrate). */
  rate?: number;
  /** rtp mode: bytes per datagram, RTP header included. */
  size?: number;
  /** RTP sequence number of datagram 0 (default 0). */
  rtpSeq?: number;
  /** RTP timestamp of datagram 0 (default 0). */
  rtpTimestamp?: number;
  /** RTP SSRC (default 0x4d435253, "MCRS"). */
  ssrc?: number;
  rtpExtension?: boolean;
  /** The 27 MHz clock at datagram 0, a multiple of 300 below SIGNAL.PCR_WRAP (default 0). */
  clockStart?: number;
  /** Seeds the values a `ssrc` fault (sender restart) draws. */
  seed?: number;
  faults?: readonly Fault[];
}

/** Datagrams per second and bytes per datagram; throws on a bitrate, rate or size out of range. */
function datagramShape(
  o: SignalOptions,
  ts: boolean,
  rtpBytes: number,
): { rate: number; size: number } {
  if (ts) {
    const b = o.bitrate ?? SIGNAL.DEFAULT_BITRATE;
    if (!(Number.isInteger(b) && b >= SIGNAL.MIN_BITRATE && b <= SIGNAL.MAX_BITRATE)) {
      throw new Error(
        `bitrate must be an integer from ${SIGNAL.MIN_BITRATE} to ${SIGNAL.MAX_BITRATE} bits/s`,
      );
    }
    const S = o.tsSize ?? SIGNAL.TS_PACKET;
    return { rate: tsDatagramRate(b), size: rtpBytes + SIGNAL.TS_PACKETS_PER_DATAGRAM * S };
  }
  const rate = o.rate ?? 0;
  if (!(rate > 0)) throw new Error(`rtp mode needs a datagram rate`);
  const size = o.size ?? 0;
  if (!(Number.isInteger(size) && size >= rtpBytes && size <= 65507)) {
    throw new Error(`rtp datagram size must be ${rtpBytes}..65507 bytes`);
  }
  return { rate, size };
}

// ---- the signal --------------------------------------------------------------

export class TestSignal {
  readonly mode: SignalMode;
  readonly count: number;
  /** Bytes per datagram. */
  readonly datagramSize: number;
  /** Datagrams per second (the nominal send time of datagram k is k / datagramRate). */
  readonly datagramRate: number;
  /** TS packets per datagram (0 in rtp mode) and their size. */
  readonly tsPacketsPerDatagram: number;
  readonly tsPacketSize: number;
  readonly bitrate: number;
  readonly ssrc: number;
  readonly rtpSeq: number;
  readonly rtpTimestamp: number;

  /** RTP payload type (33 for rtp+ts, 96 for rtp). */
  readonly payloadType: number;

  /** The faults, checked and grouped. */
  readonly #faults: FaultPlan;
  /** The writers of the RTP header and of the TS packets (null without either). */
  readonly #rtp: RtpWriter | null;
  readonly #ts: TsWriter | null;
  /** The `rtp` signal's payload (empty with TS). */
  readonly #rtpFiller: Uint8Array;

  constructor(o: SignalOptions) {
    if (!SIGNAL_MODES.includes(o.mode)) throw new Error(`unknown signal mode "${o.mode}"`);
    if (!(Number.isInteger(o.count) && o.count >= 1)) {
      throw new Error(`count must be a positive integer`);
    }
    this.mode = o.mode;
    this.count = o.count;
    const ts = o.mode !== "rtp";
    const rtp = o.mode !== "ts";
    this.bitrate = o.bitrate ?? SIGNAL.DEFAULT_BITRATE;
    const S = o.tsSize ?? SIGNAL.TS_PACKET;
    if (S !== 188 && S !== 204) throw new Error(`TS packet size must be 188 or 204`);
    this.tsPacketSize = ts ? S : 0;
    this.tsPacketsPerDatagram = ts ? SIGNAL.TS_PACKETS_PER_DATAGRAM : 0;
    if (!rtp && (o.rtpExtension || o.rtpSeq !== undefined || o.ssrc !== undefined)) {
      throw new Error(`RTP options need an RTP signal (rtp or rtp+ts)`);
    }
    if (!ts && (o.bitrate !== undefined || o.tsSize !== undefined || o.cat)) {
      throw new Error(`TS options (bitrate, TS packet size, CAT) need a TS signal (ts or rtp+ts)`);
    }
    const extension = rtp && (o.rtpExtension ?? false);
    const rtpBytes = rtp ? rtpHeaderBytes(extension) : 0;
    this.payloadType = o.mode === "rtp+ts" ? SIGNAL.RTP_PT_MP2T : SIGNAL.RTP_PT_DYNAMIC;
    this.ssrc = (o.ssrc ?? 0x4d435253) >>> 0;
    this.rtpSeq = (o.rtpSeq ?? 0) & 0xffff;
    this.rtpTimestamp = (o.rtpTimestamp ?? 0) >>> 0;
    const clockStart = o.clockStart ?? 0;
    if (
      !(Number.isInteger(clockStart) && clockStart >= 0 &&
        clockStart < SIGNAL.PCR_WRAP && clockStart % 300 === 0)
    ) {
      throw new Error(`clockStart must be a multiple of 300 in [0, 2^33 * 300)`);
    }
    const shape = datagramShape(o, ts, rtpBytes);
    this.datagramRate = shape.rate;
    this.datagramSize = shape.size;

    this.#faults = new FaultPlan(o.faults ?? [], o.count, ts, rtp);
    this.#ts = ts
      ? new TsWriter(
        { bitrate: this.bitrate, packetSize: S, cat: o.cat ?? false, clockStart },
        this.#faults,
      )
      : null;
    this.#rtp = rtp
      ? new RtpWriter({
        ssrc: this.ssrc,
        seq: this.rtpSeq,
        timestamp: this.rtpTimestamp,
        extension,
        payloadType: this.payloadType,
        datagramRate: this.datagramRate,
        seed: o.seed ?? 0,
      }, this.#faults.rtp)
      : null;
    this.#rtpFiller = rtpFiller(ts ? 0 : this.datagramSize - rtpBytes);
  }

  // ---- send order ----

  /** Datagram k is not sent (fault drop). */
  dropped(k: number): boolean {
    return this.#faults.drop.has(k);
  }

  /** Datagram k is sent twice, back to back (fault dup). */
  duplicated(k: number): boolean {
    return this.#faults.dup.has(k);
  }

  /** Datagram k goes out after datagram k+1 (fault reorder). */
  swappedWithNext(k: number): boolean {
    return this.#faults.reorder.has(k);
  }

  /** Datagrams sent, after faults. */
  get sentCount(): number {
    return this.count - this.#faults.drop.size + this.#faults.dup.size;
  }
  /**
   * The datagram indices in the order they go out (allocates: for tests and
   * small runs; a sender walks k with the three predicates above instead).
   */
  sendOrder(): number[] {
    const order: number[] = [];
    const emit = (k: number) => {
      if (this.dropped(k)) return;
      order.push(k);
      if (this.duplicated(k)) order.push(k);
    };
    for (let k = 0; k < this.count; k++) {
      if (this.swappedWithNext(k)) {
        emit(k + 1);
        emit(k);
        k++;
      } else {
        emit(k);
      }
    }
    return order;
  }

  // ---- building ----

  /**
   * Writes datagram k (0 <= k < count, before faults) at out[offset..] and
   * returns its length (datagramSize). Allocates nothing.
   */
  build(k: number, out: Uint8Array, offset: number): number {
    let p = offset;
    if (this.#rtp !== null) p = this.#rtp.write(k, out, p);
    if (this.#ts !== null) this.#ts.write(k, out, p);
    else out.set(this.#rtpFiller, p);
    return this.datagramSize;
  }

  // ---- reports ----

  /** Where the faults went (expanded lists; allocates). */
  injected(): SignalInjected {
    const f = this.#faults;
    const ts = this.#ts;
    const r: SignalInjected = {};
    const put = (key: keyof SignalInjected, set: IndexSet | undefined) => {
      if (set !== undefined && set.size > 0) (r as Record<string, unknown>)[key] = set.toArray();
    };
    put("drop", f.drop);
    put("dup", f.dup);
    put("reorder", f.reorder);
    put("sync", f.sync);
    put("cc", ts?.cc);
    put("tei", f.tei);
    put("crc", ts?.crc);
    put("no_pat", f.noPat);
    put("no_pmt", f.noPmt);
    if (f.stopPid.length > 0) {
      r.stop_pid = f.stopPid.map((s) => ({ pid: s.pid, datagrams: s.set.toArray() }));
    }
    put("pcr_gap", f.pcrGap);
    put("scramble", ts?.scramble);
    const restarts = this.#rtp?.restarts();
    if (restarts !== undefined) r.ssrc = restarts;
    const jumps = this.#rtp?.jumps();
    if (jumps !== undefined) r.seq_jump = jumps;
    put("discontinuity", ts?.discontinuity);
    put("legal_dup", ts?.legalDup);
    return r;
  }
}
