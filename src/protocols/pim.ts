/**
 * PIM-SM messages (RFC 7761 4.9): the header, Hello and Join/Prune, parsed
 * from and built into the payload of an IPv4 packet. Pure; never throws on
 * input bytes. Other message types are recognised by type and counted.
 */
import { fail, internetChecksum, ipv4At, type Parsed } from "./ip_packet.ts";

export const PIM_PROTOCOL = 103;
export const ALL_PIM_ROUTERS = "224.0.0.13";

export const PimType = {
  HELLO: 0,
  REGISTER: 1,
  REGISTER_STOP: 2,
  JOIN_PRUNE: 3,
  BOOTSTRAP: 4,
  ASSERT: 5,
  GRAFT: 6,
  GRAFT_ACK: 7,
  CANDIDATE_RP: 8,
} as const;

/** Hello option types (RFC 7761 4.9.2, RFC 4601). */
const OPT_HOLDTIME = 1;
const OPT_LAN_PRUNE_DELAY = 2;
const OPT_DR_PRIORITY = 19;
const OPT_GENERATION_ID = 20;
const OPT_ADDRESS_LIST = 24;

export interface Hello {
  holdtimeS: number;
  /** Absent when the neighbour does not send the option (it then loses DR election on priority). */
  drPriority?: number;
  generationId?: number;
  propagationDelayMs?: number;
  overrideIntervalMs?: number;
  secondaryAddresses: string[];
}

/** One encoded source of a Join/Prune group entry. */
export interface JoinSource {
  address: string;
  maskLength: number;
  /** Sparse (always set in PIM-SM). */
  sparse: boolean;
  /** Wildcard: a (*,G) entry, address is the RP. */
  wildcard: boolean;
  /** RPT: the entry refers to the RP tree. */
  rpt: boolean;
}

export interface JoinPruneGroup {
  group: string;
  maskLength: number;
  joins: JoinSource[];
  prunes: JoinSource[];
}

export interface JoinPrune {
  upstream: string;
  holdtimeS: number;
  groups: JoinPruneGroup[];
}

export type PimMessage =
  | { type: 0; hello: Hello }
  | { type: 2; registerStop: { group: string; source: string } }
  | { type: 3; joinPrune: JoinPrune }
  | { type: number; other: true };

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Encoded-Unicast address (family 1 = IPv4, native encoding): 6 bytes. */
function readUnicast(b: Uint8Array, o: number): string | null {
  if (o + 6 > b.length || b[o] !== 1 || b[o + 1] !== 0) return null;
  return ipv4At(b, o + 2);
}

export function parsePim(buf: Uint8Array): Parsed<PimMessage> {
  if (buf.length < 4) return fail("truncated");
  if (buf[0] >> 4 !== 2) return fail("bad_version");
  const type = buf[0] & 0x0f;
  // A Register's checksum covers only its header (RFC 7761 4.9.3).
  const covered = type === PimType.REGISTER ? buf.subarray(0, Math.min(8, buf.length)) : buf;
  if (internetChecksum(covered) !== 0) return fail("bad_checksum");
  if (type === PimType.HELLO) return parseHello(buf);
  if (type === PimType.JOIN_PRUNE) return parseJoinPrune(buf);
  if (type === PimType.REGISTER_STOP) {
    // Encoded-Group (8 bytes), then Encoded-Unicast source (6 bytes).
    if (buf.length < 18) return fail("truncated");
    if (buf[4] !== 1 || buf[5] !== 0) return fail("unsupported_family");
    const source = readUnicast(buf, 12);
    if (source === null) return fail("unsupported_family");
    return {
      ok: true,
      value: { type: PimType.REGISTER_STOP, registerStop: { group: ipv4At(buf, 8), source } },
    };
  }
  return { ok: true, value: { type, other: true } };
}

function parseHello(buf: Uint8Array): Parsed<PimMessage> {
  const hello: Hello = { holdtimeS: 105, secondaryAddresses: [] };
  let off = 4;
  while (off < buf.length) {
    if (off + 4 > buf.length) return fail("truncated");
    const type = u16(buf, off);
    const len = u16(buf, off + 2);
    const v = off + 4;
    if (v + len > buf.length) return fail("truncated");
    if (type === OPT_HOLDTIME) {
      if (len !== 2) return fail("bad_option");
      hello.holdtimeS = u16(buf, v);
    } else if (type === OPT_DR_PRIORITY) {
      if (len !== 4) return fail("bad_option");
      hello.drPriority = u32(buf, v);
    } else if (type === OPT_GENERATION_ID) {
      if (len !== 4) return fail("bad_option");
      hello.generationId = u32(buf, v);
    } else if (type === OPT_LAN_PRUNE_DELAY) {
      if (len !== 4) return fail("bad_option");
      hello.propagationDelayMs = u16(buf, v) & 0x7fff;
      hello.overrideIntervalMs = u16(buf, v + 2);
    } else if (type === OPT_ADDRESS_LIST) {
      for (let o = v; o + 6 <= v + len; o += 6) {
        const a = readUnicast(buf, o);
        if (a !== null) hello.secondaryAddresses.push(a); // IPv6 entries are skipped
      }
    }
    off = v + len;
  }
  return { ok: true, value: { type: PimType.HELLO, hello } };
}

function parseJoinPrune(buf: Uint8Array): Parsed<PimMessage> {
  const upstream = readUnicast(buf, 4);
  if (upstream === null) return fail(buf.length < 10 ? "truncated" : "unsupported_family");
  if (buf.length < 14) return fail("truncated");
  const count = buf[11];
  const holdtimeS = u16(buf, 12);
  const groups: JoinPruneGroup[] = [];
  let off = 14;
  const source = (o: number): JoinSource | null => {
    if (buf[o] !== 1 || buf[o + 1] !== 0) return null;
    return {
      address: ipv4At(buf, o + 4),
      maskLength: buf[o + 3],
      sparse: (buf[o + 2] & 0x04) !== 0,
      wildcard: (buf[o + 2] & 0x02) !== 0,
      rpt: (buf[o + 2] & 0x01) !== 0,
    };
  };
  for (let g = 0; g < count; g++) {
    if (off + 12 > buf.length) return fail("truncated");
    if (buf[off] !== 1 || buf[off + 1] !== 0) return fail("unsupported_family");
    const group = ipv4At(buf, off + 4);
    const maskLength = buf[off + 3];
    const nJoin = u16(buf, off + 8);
    const nPrune = u16(buf, off + 10);
    off += 12;
    if (off + 8 * (nJoin + nPrune) > buf.length) return fail("truncated");
    const joins: JoinSource[] = [];
    const prunes: JoinSource[] = [];
    for (let i = 0; i < nJoin + nPrune; i++, off += 8) {
      const s = source(off);
      if (s === null) return fail("unsupported_family");
      (i < nJoin ? joins : prunes).push(s);
    }
    groups.push({ group, maskLength, joins, prunes });
  }
  return {
    ok: true,
    value: { type: PimType.JOIN_PRUNE, joinPrune: { upstream, holdtimeS, groups } },
  };
}

function header(type: number, body: number[]): Uint8Array {
  const m = new Uint8Array(4 + body.length);
  m[0] = 0x20 | type;
  m.set(body, 4);
  const sum = internetChecksum(m);
  m[2] = sum >> 8;
  m[3] = sum & 0xff;
  return m;
}

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const v4 = (a: string) => a.split(".").map(Number);

/** A Hello with Holdtime, DR Priority and Generation ID options (holdtime 0: "going away"). */
export function buildHello(
  holdtimeS: number,
  drPriority: number,
  generationId: number,
): Uint8Array {
  return header(PimType.HELLO, [
    ...be16(OPT_HOLDTIME),
    ...be16(2),
    ...be16(holdtimeS),
    ...be16(OPT_DR_PRIORITY),
    ...be16(4),
    ...be32(drPriority),
    ...be16(OPT_GENERATION_ID),
    ...be16(4),
    ...be32(generationId),
  ]);
}

/** A Join/Prune (used by tests and tools to play a downstream router). */
export function buildJoinPrune(jp: JoinPrune): Uint8Array {
  const src = (s: JoinSource) => [
    1,
    0,
    (s.sparse ? 4 : 0) | (s.wildcard ? 2 : 0) | (s.rpt ? 1 : 0),
    s.maskLength,
    ...v4(s.address),
  ];
  const body: number[] = [1, 0, ...v4(jp.upstream), 0, jp.groups.length, ...be16(jp.holdtimeS)];
  for (const g of jp.groups) {
    body.push(
      1,
      0,
      0,
      g.maskLength,
      ...v4(g.group),
      ...be16(g.joins.length),
      ...be16(g.prunes.length),
    );
    for (const s of g.joins) body.push(...src(s));
    for (const s of g.prunes) body.push(...src(s));
  }
  return header(PimType.JOIN_PRUNE, body);
}

/**
 * A Null-Register (RFC 7761 4.4.1): the N bit set and, in place of a data
 * packet, a dummy IPv4 header from S to G. Its checksum covers the PIM
 * header and the flags word only (4.9.3).
 */
export function buildNullRegister(source: string, group: string): Uint8Array {
  const m = new Uint8Array(8 + 20);
  m[0] = 0x20 | PimType.REGISTER;
  m[4] = 0x40; // N: Null-Register
  const ip = m.subarray(8);
  ip[0] = 0x45;
  ip[3] = 20;
  ip[9] = PIM_PROTOCOL;
  ip.set(v4(source), 12);
  ip.set(v4(group), 16);
  const ipSum = internetChecksum(ip);
  ip[10] = ipSum >> 8;
  ip[11] = ipSum & 0xff;
  const sum = internetChecksum(m.subarray(0, 8));
  m[2] = sum >> 8;
  m[3] = sum & 0xff;
  return m;
}

/** A Register-Stop for (S,G) (tests play the RP with it). */
export function buildRegisterStop(group: string, source: string): Uint8Array {
  return header(PimType.REGISTER_STOP, [1, 0, 0, 32, ...v4(group), 1, 0, ...v4(source)]);
}
