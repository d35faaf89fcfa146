/**
 * MLD messages (RFC 2710 MLDv1, RFC 3810 MLDv2): parsed from and built into
 * the ICMPv6 payload of an IPv6 packet, and read as the same messages as
 * IGMP's (MLDv1 as IGMPv2, MLDv2 as IGMPv3) so one router state machine
 * (igmp_state.ts) serves both. Pure; never throws on input bytes.
 */
import type { GroupRecord, IgmpMessage } from "./igmp.ts";
import { fail, ipv6At, type Parsed } from "./ip_packet.ts";
import { ip } from "../net/address.ts";

export const ALL_NODES = "ff02::1";

/** MLDv2's 16-bit Maximum Response Code (RFC 3810 5.1.3): below 32768 as it is, above a float (ms). */
export function decodeMrc(code: number): number {
  if (code < 32768) return code;
  return ((code & 0x0fff) | 0x1000) << (((code >> 12) & 0x07) + 3);
}

export function encodeMrc(ms: number): number {
  if (ms < 32768) return Math.max(0, Math.floor(ms));
  for (let exp = 0; exp < 8; exp++) {
    const mant = (ms >> (exp + 3)) - 0x1000;
    if (mant >= 0 && mant < 0x1000) return 0x8000 | (exp << 12) | mant;
  }
  return 0xffff;
}

/** QQIC (RFC 3810 5.1.9), as IGMPv3's 8-bit code. */
function decodeQqic(code: number): number {
  return code < 128 ? code : ((code & 0x0f) | 0x10) << (((code >> 4) & 0x07) + 3);
}

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
          value: { kind: "query", version: 2, group, maxResponseMs: (buf[4] << 8) | buf[5], sources: [], robustness: 0, intervalS: 0 },
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
          intervalS: decodeQqic(buf[25]),
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
      if (buf.length < 8) return fail("truncated");
      const count = (buf[6] << 8) | buf[7];
      const records: GroupRecord[] = [];
      let off = 8;
      for (let r = 0; r < count; r++) {
        if (off + 20 > buf.length) return fail("truncated");
        const aux = buf[off + 1] * 4;
        const n = (buf[off + 2] << 8) | buf[off + 3];
        const end = off + 20 + 16 * n + aux;
        if (end > buf.length) return fail("truncated");
        const sources: string[] = [];
        for (let i = 0; i < n; i++) sources.push(ipv6At(buf, off + 20 + 16 * i));
        records.push({ type: buf[off], group: ipv6At(buf, off + 4), sources });
        off = end;
      }
      return { ok: true, value: { kind: "report3", records } };
    }
    default:
      return fail("unknown_type");
  }
}

/** A query: MLDv1 (24 bytes) or MLDv2 (28 bytes plus sources). group "::": general. Checksum left 0 (buildIpv6Mld fills it). */
export function buildMldQuery(version: 1 | 2, group: string, maxResponseMs: number, robustness = 2, intervalS = 125): Uint8Array {
  const m = new Uint8Array(version === 1 ? 24 : 28);
  m[0] = 130;
  const code = version === 1 ? Math.min(0xffff, Math.max(1, Math.round(maxResponseMs))) : encodeMrc(Math.max(1, maxResponseMs));
  m[4] = code >> 8;
  m[5] = code & 0xff;
  m.set(ip(group).bytes, 8);
  if (version === 2) {
    m[24] = robustness <= 7 ? robustness : 0;
    m[25] = intervalS < 128 ? intervalS : 127;
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
  const size = 8 + records.reduce((n, r) => n + 20 + 16 * r.sources.length, 0);
  const m = new Uint8Array(size);
  m[0] = 143;
  m[6] = records.length >> 8;
  m[7] = records.length & 0xff;
  let off = 8;
  for (const r of records) {
    m[off] = r.type;
    m[off + 2] = r.sources.length >> 8;
    m[off + 3] = r.sources.length & 0xff;
    m.set(ip(r.group).bytes, off + 4);
    r.sources.forEach((s, i) => m.set(ip(s).bytes, off + 20 + 16 * i));
    off += 20 + 16 * r.sources.length;
  }
  return m;
}
