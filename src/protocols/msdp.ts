/**
 * MSDP messages (RFC 3618 12): TLVs on a TCP stream. `MsdpReader` frames
 * the stream into messages; a TLV that cannot be framed is an error that
 * closes the session (RFC 3618 5.4). Pure; never throws on input bytes.
 */
import { fail, ipv4At, type Parsed } from "./ip_packet.ts";

export const MSDP_PORT = 639;
/** Largest MSDP message (RFC 3618 12.1: 9192 bytes). */
export const MSDP_MAX_MESSAGE = 9192;

export const MsdpType = { SA: 1, SA_REQUEST: 2, SA_RESPONSE: 3, KEEPALIVE: 4 } as const;

export interface SaEntry {
  source: string;
  group: string;
}

export type MsdpMessage =
  | { type: 1 | 3; rp: string; entries: SaEntry[] }
  | { type: 4 }
  | { type: number; other: true };

/** Frames TLVs out of a byte stream (bytes pushed as they arrive). */
export class MsdpReader {
  #buf = new Uint8Array(0);

  push(bytes: Uint8Array): void {
    const next = new Uint8Array(this.#buf.length + bytes.length);
    next.set(this.#buf);
    next.set(bytes, this.#buf.length);
    this.#buf = next;
  }

  /** The next whole message, null when more bytes are needed, or an error (the session must close). */
  next(): Parsed<MsdpMessage> | null {
    if (this.#buf.length < 3) return null;
    const length = (this.#buf[1] << 8) | this.#buf[2];
    if (length < 3 || length > MSDP_MAX_MESSAGE) return fail("bad_length");
    if (this.#buf.length < length) return null;
    const tlv = this.#buf.slice(0, length);
    this.#buf = this.#buf.slice(length);
    return parseMsdp(tlv);
  }

  get buffered(): number {
    return this.#buf.length;
  }
}

/** Parses one whole TLV. */
export function parseMsdp(tlv: Uint8Array): Parsed<MsdpMessage> {
  if (tlv.length < 3) return fail("truncated");
  const type = tlv[0];
  const length = (tlv[1] << 8) | tlv[2];
  if (length !== tlv.length) return fail("bad_length");
  if (type === MsdpType.KEEPALIVE) {
    return length === 3 ? { ok: true, value: { type: 4 } } : fail("bad_length");
  }
  if (type === MsdpType.SA || type === MsdpType.SA_RESPONSE) {
    if (length < 8) return fail("truncated");
    const count = tlv[3];
    if (8 + 12 * count > length) return fail("truncated");
    const rp = ipv4At(tlv, 4);
    const entries: SaEntry[] = [];
    for (let i = 0, o = 8; i < count; i++, o += 12) {
      if (tlv[o + 3] !== 32) return fail("bad_prefix_length"); // sprefix len is always 32
      entries.push({ group: ipv4At(tlv, o + 4), source: ipv4At(tlv, o + 8) });
    }
    // Anything after the entries is an encapsulated data packet: not relayed by mcr.
    return { ok: true, value: { type, rp, entries } };
  }
  return { ok: true, value: { type, other: true } };
}

export function buildKeepalive(): Uint8Array {
  return new Uint8Array([MsdpType.KEEPALIVE, 0, 3]);
}

/** Source-Active messages for the entries: as many TLVs as needed (255 entries each at most). */
export function buildSa(rp: string, entries: SaEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const put = (m: Uint8Array, o: number, a: string) => m.set(a.split(".").map(Number), o);
  for (let start = 0; start < entries.length; start += 255) {
    const chunk = entries.slice(start, start + 255);
    const length = 8 + 12 * chunk.length;
    const m = new Uint8Array(length);
    m[0] = MsdpType.SA;
    m[1] = length >> 8;
    m[2] = length & 0xff;
    m[3] = chunk.length;
    put(m, 4, rp);
    chunk.forEach((e, i) => {
      m[8 + 12 * i + 3] = 32;
      put(m, 8 + 12 * i + 4, e.group);
      put(m, 8 + 12 * i + 8, e.source);
    });
    out.push(m);
  }
  return out;
}
