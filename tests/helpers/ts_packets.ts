/**
 * Builders of RTP headers and MPEG-TS packets for the stream-inspection
 * tests, written from ISO/IEC 13818-1 and RFC 3550 independently of
 * src/streams/ (and of the generator, src/tools/signal.ts): the CRC here is
 * bit by bit, not table driven.
 */
import { StreamInspector } from "../../src/streams/inspector.ts";
import { STREAM_BLOCK_SLOTS } from "../../src/streams/stream_slots.ts";

/** CRC-32/MPEG-2, one bit at a time. */
export function crc32Bitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const top = ((crc >>> 31) ^ (byte >> bit)) & 1;
      crc = ((crc << 1) ^ (top ? 0x04c11db7 : 0)) >>> 0;
    }
  }
  return crc;
}

export interface TsPacketOptions {
  pid: number;
  cc: number;
  pusi?: boolean;
  tei?: boolean;
  scrambling?: number;
  /** Payload bytes (the rest is filled with 0xff). */
  payload?: Uint8Array;
  /** With an adaptation field: PCR (27 MHz) and/or discontinuity_indicator. */
  pcr?: number;
  discontinuity?: boolean;
  /** No payload (adaptation_field_control 10). */
  noPayload?: boolean;
  sync?: number;
}

/** One 188-byte TS packet. */
export function tsPacket(o: TsPacketOptions): Uint8Array {
  const p = new Uint8Array(188).fill(0xff);
  p[0] = o.sync ?? 0x47;
  p[1] = (o.tei ? 0x80 : 0) | (o.pusi ? 0x40 : 0) | ((o.pid >> 8) & 0x1f);
  p[2] = o.pid & 0xff;
  const af = o.pcr !== undefined || o.discontinuity || o.noPayload;
  const afc = o.noPayload ? 2 : af ? 3 : 1;
  p[3] = ((o.scrambling ?? 0) << 6) | (afc << 4) | (o.cc & 0x0f);
  let at = 4;
  if (af) {
    const afLen = o.noPayload ? 183 : o.pcr !== undefined ? 7 : 1;
    p[4] = afLen;
    p[5] = (o.discontinuity ? 0x80 : 0) | (o.pcr !== undefined ? 0x10 : 0);
    if (o.pcr !== undefined) {
      const base = Math.floor(o.pcr / 300);
      const ext = o.pcr % 300;
      p[6] = Math.floor(base / 2 ** 25) & 0xff;
      p[7] = Math.floor(base / 2 ** 17) & 0xff;
      p[8] = Math.floor(base / 2 ** 9) & 0xff;
      p[9] = Math.floor(base / 2 ** 1) & 0xff;
      p[10] = ((base & 1) << 7) | 0x7e | ((ext >> 8) & 1);
      p[11] = ext & 0xff;
    }
    at = 5 + afLen;
  }
  if (o.payload && !o.noPayload) p.set(o.payload.subarray(0, 188 - at), at);
  return p;
}

/** A PSI section (table_id, body after the 8-byte header... as table-specific bytes) with its CRC, behind a pointer_field. */
function section(tableId: number, idExt: number, body: number[], badCrc = false): Uint8Array {
  const len = 5 + body.length + 4; // after section_length: 5 header bytes, body, CRC
  const s = [
    tableId,
    0xb0 | ((len >> 8) & 0x0f),
    len & 0xff,
    idExt >> 8,
    idExt & 0xff,
    0xc1,
    0,
    0,
    ...body,
  ];
  const crc = crc32Bitwise(new Uint8Array(s)) ^ (badCrc ? 1 : 0);
  return new Uint8Array([0, ...s, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
}

/** A PAT naming one program on `pmtPid`. */
export function pat(pmtPid: number, opts: { badCrc?: boolean; tableId?: number } = {}): Uint8Array {
  return section(opts.tableId ?? 0, 1, [0, 1, 0xe0 | (pmtPid >> 8), pmtPid & 0xff], opts.badCrc);
}

/** A PMT with PCR on `pcrPid` and elementary streams `pids` (stream type 0x1b). */
export function pmt(pcrPid: number, pids: number[], opts: { badCrc?: boolean } = {}): Uint8Array {
  const es = pids.flatMap((p) => [0x1b, 0xe0 | (p >> 8), p & 0xff, 0xf0, 0]);
  return section(2, 1, [0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0, ...es], opts.badCrc);
}

/** A CAT with no descriptors. */
export function cat(): Uint8Array {
  return section(1, 0xffff, []);
}

/** A PES header with a PTS (stream id 0xe0). */
export function pesWithPts(pts90k: number): Uint8Array {
  const p = Math.floor(pts90k);
  return new Uint8Array([
    0,
    0,
    1,
    0xe0,
    0,
    0,
    0x80,
    0x80,
    5,
    0x21 | ((Math.floor(p / 2 ** 30) & 7) << 1),
    (Math.floor(p / 2 ** 22)) & 0xff,
    ((Math.floor(p / 2 ** 15) & 0x7f) << 1) | 1,
    (Math.floor(p / 2 ** 7)) & 0xff,
    ((p & 0x7f) << 1) | 1,
  ]);
}

/** An RTP header (12 bytes, plus CSRCs or an extension) before `payload`. */
export function rtp(o: {
  seq: number;
  ts: number;
  ssrc?: number;
  pt?: number;
  csrc?: number;
  extensionWords?: number;
  padding?: number;
  version?: number;
  payload?: Uint8Array;
}): Uint8Array {
  const csrc = o.csrc ?? 0;
  const ext = o.extensionWords === undefined ? 0 : 4 + 4 * o.extensionWords;
  const pad = o.padding ?? 0;
  const body = o.payload ?? new Uint8Array(100);
  const out = new Uint8Array(12 + 4 * csrc + ext + body.length + pad);
  const v = new DataView(out.buffer);
  out[0] = ((o.version ?? 2) << 6) | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | csrc;
  out[1] = o.pt ?? 96;
  v.setUint16(2, o.seq & 0xffff);
  v.setUint32(4, o.ts >>> 0);
  v.setUint32(8, o.ssrc ?? 0x1234);
  if (ext) v.setUint16(12 + 4 * csrc + 2, o.extensionWords!);
  out.set(body, 12 + 4 * csrc + ext);
  if (pad) out[out.length - 1] = pad;
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An inspector over a fresh block (slot 0). */
export function newInspector(
  mode: "udp" | "rtp" | "rtp+ts" | "ts",
  opts: { clockRate?: number; pcrRepetitionMs?: number; pidPeriodMs?: number } = {},
): StreamInspector {
  return new StreamInspector(
    {
      mode,
      slot: 0,
      epoch: 1,
      clockRate: opts.clockRate ?? 90000,
      pcrRepetitionMs: opts.pcrRepetitionMs ?? 100,
      pidPeriodMs: opts.pidPeriodMs ?? 5000,
    },
    new Float64Array(STREAM_BLOCK_SLOTS),
  );
}
