/**
 * IGMP messages (RFC 1112, 2236, 3376): parsed from and built into the
 * payload of an IPv4 packet. Pure; never throws on input bytes.
 */
import { fail, internetChecksum, ipv4At, type Parsed } from "./ip_packet.ts";

export const IGMP_PROTOCOL = 2;
export const ALL_SYSTEMS = "224.0.0.1";

/** IGMPv3 group record types (RFC 3376 4.2.12). */
export const RecordType = {
  MODE_IS_INCLUDE: 1,
  MODE_IS_EXCLUDE: 2,
  CHANGE_TO_INCLUDE: 3,
  CHANGE_TO_EXCLUDE: 4,
  ALLOW_NEW_SOURCES: 5,
  BLOCK_OLD_SOURCES: 6,
} as const;

export interface GroupRecord {
  type: number;
  group: string;
  sources: string[];
}

export type IgmpMessage =
  | {
    kind: "query";
    version: 1 | 2 | 3;
    /** "0.0.0.0" for a general query. */
    group: string;
    maxResponseMs: number;
    sources: string[];
    /** IGMPv3: querier's robustness variable and query interval (0: not given). */
    robustness: number;
    intervalS: number;
  }
  | { kind: "report"; version: 1 | 2; group: string }
  | { kind: "leave"; group: string }
  | { kind: "report3"; records: GroupRecord[] };

/** IGMPv3's 8-bit time code (RFC 3376 4.1.1): below 128 as it is, above a float. */
export function decodeCode(code: number): number {
  if (code < 128) return code;
  return ((code & 0x0f) | 0x10) << (((code >> 4) & 0x07) + 3);
}

/** The code for a value (tenths of a second or seconds), rounded down to what the code can say. */
export function encodeCode(value: number): number {
  if (value < 128) return Math.max(0, Math.floor(value));
  for (let exp = 0; exp < 8; exp++) {
    const mant = (value >> (exp + 3)) - 0x10;
    if (mant >= 0 && mant < 16) return 0x80 | (exp << 4) | mant;
  }
  return 0xff;
}

export function parseIgmp(buf: Uint8Array): Parsed<IgmpMessage> {
  if (buf.length < 8) return fail("truncated");
  if (internetChecksum(buf) !== 0) return fail("bad_checksum");
  const type = buf[0];
  switch (type) {
    case 0x11: {
      const group = ipv4At(buf, 4);
      if (buf.length === 8) {
        return {
          ok: true,
          value: {
            kind: "query",
            version: buf[1] === 0 ? 1 : 2,
            group,
            maxResponseMs: buf[1] === 0 ? 10_000 : buf[1] * 100,
            sources: [],
            robustness: 0,
            intervalS: 0,
          },
        };
      }
      if (buf.length < 12) return fail("truncated");
      const n = (buf[10] << 8) | buf[11];
      if (12 + 4 * n > buf.length) return fail("truncated");
      const sources: string[] = [];
      for (let i = 0; i < n; i++) sources.push(ipv4At(buf, 12 + 4 * i));
      return {
        ok: true,
        value: {
          kind: "query",
          version: 3,
          group,
          maxResponseMs: decodeCode(buf[1]) * 100,
          sources,
          robustness: buf[8] & 0x07,
          intervalS: decodeCode(buf[9]),
        },
      };
    }
    case 0x12:
      return { ok: true, value: { kind: "report", version: 1, group: ipv4At(buf, 4) } };
    case 0x16:
      return { ok: true, value: { kind: "report", version: 2, group: ipv4At(buf, 4) } };
    case 0x17:
      return { ok: true, value: { kind: "leave", group: ipv4At(buf, 4) } };
    case 0x22: {
      const count = (buf[6] << 8) | buf[7];
      const records: GroupRecord[] = [];
      let off = 8;
      for (let r = 0; r < count; r++) {
        if (off + 8 > buf.length) return fail("truncated");
        const aux = buf[off + 1] * 4;
        const n = (buf[off + 2] << 8) | buf[off + 3];
        const end = off + 8 + 4 * n + aux;
        if (end > buf.length) return fail("truncated");
        const sources: string[] = [];
        for (let i = 0; i < n; i++) sources.push(ipv4At(buf, off + 8 + 4 * i));
        records.push({ type: buf[off], group: ipv4At(buf, off + 4), sources });
        off = end;
      }
      return { ok: true, value: { kind: "report3", records } };
    }
    default:
      return fail("unknown_type");
  }
}

function withChecksum(msg: Uint8Array): Uint8Array {
  const sum = internetChecksum(msg);
  msg[2] = sum >> 8;
  msg[3] = sum & 0xff;
  return msg;
}

function putIpv4(buf: Uint8Array, off: number, text: string): void {
  const parts = text.split(".").map(Number);
  for (let i = 0; i < 4; i++) buf[off + i] = parts[i];
}

/** A query: IGMPv2 (8 bytes) or IGMPv3 (12 bytes plus sources). group "0.0.0.0": general. */
export function buildQuery(
  version: 2 | 3,
  group: string,
  maxResponseMs: number,
  robustness = 2,
  intervalS = 125,
  sources: string[] = [],
  suppress = false,
): Uint8Array {
  const tenths = Math.round(maxResponseMs / 100);
  if (version === 2) {
    const m = new Uint8Array(8);
    m[0] = 0x11;
    m[1] = Math.min(255, Math.max(1, tenths));
    putIpv4(m, 4, group);
    return withChecksum(m);
  }
  const m = new Uint8Array(12 + 4 * sources.length);
  m[0] = 0x11;
  m[1] = encodeCode(Math.max(1, tenths));
  putIpv4(m, 4, group);
  m[8] = (suppress ? 0x08 : 0) | (robustness <= 7 ? robustness : 0);
  m[9] = encodeCode(intervalS);
  m[10] = sources.length >> 8;
  m[11] = sources.length & 0xff;
  sources.forEach((s, i) => putIpv4(m, 12 + 4 * i, s));
  return withChecksum(m);
}

/** A membership report or leave, as hosts send them (tests and tools). */
export function buildHostMessage(kind: "report1" | "report2" | "leave", group: string): Uint8Array {
  const m = new Uint8Array(8);
  m[0] = kind === "report1" ? 0x12 : kind === "report2" ? 0x16 : 0x17;
  putIpv4(m, 4, group);
  return withChecksum(m);
}

/** An IGMPv3 report of the given records (tests and tools). */
export function buildReport3(records: GroupRecord[]): Uint8Array {
  const size = 8 + records.reduce((n, r) => n + 8 + 4 * r.sources.length, 0);
  const m = new Uint8Array(size);
  m[0] = 0x22;
  m[6] = records.length >> 8;
  m[7] = records.length & 0xff;
  let off = 8;
  for (const r of records) {
    m[off] = r.type;
    m[off + 2] = r.sources.length >> 8;
    m[off + 3] = r.sources.length & 0xff;
    putIpv4(m, off + 4, r.group);
    r.sources.forEach((s, i) => putIpv4(m, off + 8 + 4 * i, s));
    off += 8 + 4 * r.sources.length;
  }
  return withChecksum(m);
}
