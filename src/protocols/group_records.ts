/**
 * The group records of an IGMPv3 report (RFC 3376 4.2) and of an MLDv2
 * report (RFC 3810 5.2): the same layout, with 4- or 16-byte addresses.
 * A report is: type, reserved, checksum, reserved, record count (bytes 6-7),
 * then each record: type, aux data length (in 32-bit words), source count,
 * the group, the sources, the aux data. Pure; never throws on input bytes.
 */
import { ip } from "../net/address.ts";
import { fail, ipv4At, ipv6At, type Parsed } from "./ip_packet.ts";

export interface GroupRecord {
  type: number;
  group: string;
  sources: string[];
}

/** The records of a report of `addrLen`-byte addresses (the count at bytes 6-7). */
export function parseRecords(buf: Uint8Array, addrLen: 4 | 16): Parsed<GroupRecord[]> {
  if (buf.length < 8) return fail("truncated");
  const at = addrLen === 4 ? ipv4At : ipv6At;
  const head = 4 + addrLen;
  const count = (buf[6] << 8) | buf[7];
  const records: GroupRecord[] = [];
  let off = 8;
  for (let r = 0; r < count; r++) {
    if (off + head > buf.length) return fail("truncated");
    const aux = buf[off + 1] * 4;
    const n = (buf[off + 2] << 8) | buf[off + 3];
    const end = off + head + addrLen * n + aux;
    if (end > buf.length) return fail("truncated");
    const sources: string[] = [];
    for (let i = 0; i < n; i++) sources.push(at(buf, off + head + addrLen * i));
    records.push({ type: buf[off], group: at(buf, off + 4), sources });
    off = end;
  }
  return { ok: true, value: records };
}

/** A report of message type `type` carrying `records` (checksum left 0 for the caller). */
export function buildRecords(type: number, records: GroupRecord[], addrLen: 4 | 16): Uint8Array {
  const head = 4 + addrLen;
  const m = new Uint8Array(8 + records.reduce((n, r) => n + head + addrLen * r.sources.length, 0));
  m[0] = type;
  m[6] = records.length >> 8;
  m[7] = records.length & 0xff;
  let off = 8;
  for (const r of records) {
    m[off] = r.type;
    m[off + 2] = r.sources.length >> 8;
    m[off + 3] = r.sources.length & 0xff;
    m.set(ip(r.group).bytes, off + 4);
    r.sources.forEach((s, i) => m.set(ip(s).bytes, off + head + addrLen * i));
    off += head + addrLen * r.sources.length;
  }
  return m;
}
