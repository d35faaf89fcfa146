/**
 * MLD messages (RFC 2710 MLDv1, RFC 3810 MLDv2): parsed from and built into
 * the ICMPv6 payload of an IPv6 packet, and read as the same messages as
 * IGMP's (MLDv1 as IGMPv2, MLDv2 as IGMPv3) so one router state machine
 * (igmp_state.ts) serves both. Pure; never throws on input bytes.
 */
import {
  decodeCode,
  decodeFloatCode,
  encodeCode,
  encodeFloatCode,
  type IgmpMessage,
} from "./igmp.ts";
import { buildRecords, type GroupRecord, parseRecords } from "./group_records.ts";
import { fail, ipv6At, type Parsed } from "./ip_packet.ts";
import { ip } from "../net/address.ts";

export const ALL_NODES = "ff02::1";

/** MLDv2's 16-bit Maximum Response Code (RFC 3810 5.1.3), in milliseconds. */
export const decodeMrc = (code: number): number => decodeFloatCode(code, 12);
export const encodeMrc = (ms: number): number => encodeFloatCode(ms, 12);

export function parseMld(buf: Uint8Array): Parsed<IgmpMessage> {
  if (buf.length < 4) return fail("truncated");
  const type = buf[0];
  switch (type) {
    case 130: {
      if (buf.length < 24) return fail("truncated");
      const group = ipv6At(buf, 8);
      if (buf.length < 28) {
        return {
          ok: true,
          value: {
            kind: "query",
            version: 2,
            group,
            maxResponseMs: (buf[4] << 8) | buf[5],
            sources: [],
            robustness: 0,
            intervalS: 0,
          },
        };
      }
      const n = (buf[26] << 8) | buf[27];
      if (28 + 16 * n > buf.length) return fail("truncated");
      const sources: string[] = [];
      for (let i = 0; i < n; i++) sources.push(ipv6At(buf, 28 + 16 * i));
      return {
        ok: true,
        value: {
          kind: "query",
          version: 3,
          group,
          maxResponseMs: decodeMrc((buf[4] << 8) | buf[5]),
          sources,
          robustness: buf[24] & 0x07,
          intervalS: decodeCode(buf[25]),
        },
      };
    }
    case 131:
      if (buf.length < 24) return fail("truncated");
      return { ok: true, value: { kind: "report", version: 2, group: ipv6At(buf, 8) } };
    case 132:
      if (buf.length < 24) return fail("truncated");
      return { ok: true, value: { kind: "leave", group: ipv6At(buf, 8) } };
    case 143: {
      const records = parseRecords(buf, 16);
      return records.ok
        ? { ok: true, value: { kind: "report3", records: records.value } }
        : records;
    }
    default:
      return fail("unknown_type");
  }
}

/** A query: MLDv1 (24 bytes) or MLDv2 (28 bytes plus sources). group "::": general. Checksum left 0 (buildIpv6Mld fills it). */
export function buildMldQuery(
  version: 1 | 2,
  group: string,
  maxResponseMs: number,
  robustness = 2,
  intervalS = 125,
): Uint8Array {
  const m = new Uint8Array(version === 1 ? 24 : 28);
  m[0] = 130;
  const code = version === 1
    ? Math.min(0xffff, Math.max(1, Math.round(maxResponseMs)))
    : encodeMrc(Math.max(1, maxResponseMs));
  m[4] = code >> 8;
  m[5] = code & 0xff;
  m.set(ip(group).bytes, 8);
  if (version === 2) {
    m[24] = robustness <= 7 ? robustness : 0;
    m[25] = encodeCode(intervalS); // QQIC: IGMPv3's float code (intervals of 128 s and more)
  }
  return m;
}

/** A host's MLDv1 report or done, or an MLDv2 report (tests play hosts with them). Checksum left 0. */
export function buildMldHostMessage(kind: "report1" | "done", group: string): Uint8Array {
  const m = new Uint8Array(24);
  m[0] = kind === "report1" ? 131 : 132;
  m.set(ip(group).bytes, 8);
  return m;
}

export function buildMldReport2(records: GroupRecord[]): Uint8Array {
  return buildRecords(143, records, 16);
}
