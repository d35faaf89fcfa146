/**
 * IGMP messages (RFC 1112, 2236, 3376): parsed from and built into the
 * payload of an IPv4 packet. Pure; never throws on input bytes.
 */
import { fail, internetChecksum, ipv4At, type Parsed } from "./ip_packet.ts";
import { buildRecords, type GroupRecord, parseRecords } from "./group_records.ts";

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

export type { GroupRecord };

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

/**
 * The floating-point time codes of IGMPv3 (8 bits, RFC 3376 4.1.1) and MLDv2
 * (16 bits, RFC 3810 5.1.3): below 2^(mantBits+3) the value itself; above,
 * 1, exp (3 bits), mant (mantBits) standing for (mant | 1 << mantBits) << (exp + 3).
 */
export function decodeFloatCode(code: number, mantBits: number): number {
  const top = 1 << (mantBits + 3); // 128 for 8-bit codes, 32768 for 16-bit ones
  if (code < top) return code;
  const mantMask = (1 << mantBits) - 1;
  return ((code & mantMask) | (1 << mantBits)) << (((code >> mantBits) & 0x07) + 3);
}

/** The code for a value, rounded down to what the code can say (the largest code above its range). */
export function encodeFloatCode(value: number, mantBits: number): number {
  const top = 1 << (mantBits + 3);
  if (value < top) return Math.max(0, Math.floor(value));
  for (let exp = 0; exp < 8; exp++) {
    const mant = (value >> (exp + 3)) - (1 << mantBits);
    if (mant >= 0 && mant < 1 << mantBits) return top | (exp << mantBits) | mant;
  }
  return (top << 1) - 1;
}

/** IGMPv3's 8-bit time code (RFC 3376 4.1.1); MLDv2's QQIC is the same code. */
export const decodeCode = (code: number): number => decodeFloatCode(code, 4);
export const encodeCode = (value: number): number => encodeFloatCode(value, 4);

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
      const records = parseRecords(buf, 4);
      return records.ok
        ? { ok: true, value: { kind: "report3", records: records.value } }
        : records;
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
  return withChecksum(buildRecords(0x22, records, 4));
}
