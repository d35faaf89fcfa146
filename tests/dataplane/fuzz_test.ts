/**
 * Hostile frames through the whole per-packet path: RX block -> parse ->
 * match -> rewrite -> TX ring, one frame per block, on a fake arena.
 *
 * Frames are valid UDP frames aimed at the rules below, then mutated
 * (truncated at any length, bad IHL, total or UDP length lies, IP options,
 * fragments, VLAN stacks, other ethertypes and protocols, zero/0xffff/random
 * checksums, padding), or plain random bytes. For every frame:
 *  - nothing throws;
 *  - it is counted once: matched, or under exactly one drop reason, the one
 *    an independent reference classifier (below) expects;
 *  - a forwarded frame yields one copy per output (unless too big for it),
 *    equal to the reference model (tests/helpers/frames.ts) except for the
 *    UDP checksum, whose validity must be the input's: a valid checksum stays
 *    valid, a broken one stays broken, none stays none;
 *  - no byte is read from the RX ring outside the block header, the packet's
 *    header and its captured bytes, and nothing is written outside the TX
 *    frames' data (every DataView/Uint8Array access of the loop is checked;
 *    guard bytes after every TX frame and between rings stay untouched);
 *  - the RX frame is left as it was.
 *
 * The suite runs 20,000 frames. A long run (a million frames):
 *   MCR_FUZZ_RUNS=1000000 tools/deno/node_modules/@deno/linux-x64-glibc/deno test \
 *     --allow-read --allow-env tests/dataplane/fuzz_test.ts
 * MCR_FUZZ_SEED=<n> replays a run; a long run prints the outcome counts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  TP3_MAC,
  TP3_SNAPLEN,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_VLAN_VALID,
} from "../../ffi/layout.ts";
import { processBlock } from "../../src/dataplane/forward_loop.ts";
import { DROP_REASONS } from "../../src/stats/registry.ts";
import {
  type FakeArena,
  type FakeKicker,
  fakeLoopState,
  fakeWorker,
  outputCounters,
  planFor,
  ruleCounters,
  workerCounters,
} from "../helpers/fake_ring.ts";
import {
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  expectedRewrite,
  fixIpChecksum,
  get16,
  get32,
  hexDiff,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  ipv4,
  onesSum,
  pseudoHeaderSum,
  put16,
  type RewriteSpec,
  udpFrame,
  type UdpFrameOptions,
  verifyFrame,
} from "../helpers/frames.ts";

const RUNS = Number(Deno.env.get("MCR_FUZZ_RUNS") ?? 20_000);
const SEED = Deno.env.get("MCR_FUZZ_SEED");
const LONG_RUN = Deno.env.get("MCR_FUZZ_RUNS") !== undefined;

// ---- the relay under test and its reference model ---------------------------------

const CONFIG = {
  rules: [
    {
      name: "any",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [
        { interface: "out1", group: "239.9.9.1", port: 6001, ttl: 5 },
        { interface: "out2", group: "239.9.9.2", port: 6002, dscp: 46 },
      ],
    },
    {
      name: "from_net",
      input: { interface: "in0", group: "239.1.1.2", port: 5002, source: "10.0.0.0/24" },
      outputs: [{ interface: "out1", group: "239.9.9.3", port: 6003 }],
    },
    {
      name: "fragments",
      input: { interface: "in0", group: "239.1.1.3", port: 5003 },
      outputs: [
        { interface: "out2", group: "239.9.9.4", port: 6004 },
        { interface: "small", group: "239.9.9.5", port: 6005, source_ip: "192.0.2.5" },
      ],
      allow_fragments: true,
    },
  ],
};

/** What the reference model knows of an output: its ring and its rewrite. */
interface ModelOutput {
  ifindex: number;
  maxFrame: number;
  /** spec.ttl is the configured TTL; `decrement`: none is set, the input's minus one is written. */
  spec: RewriteSpec;
  decrement?: boolean;
}
interface ModelRule {
  name: string;
  group: number;
  port: number;
  srcAddr: number;
  srcBits: number;
  allowFragments: boolean;
  outputs: ModelOutput[];
}

/** The rules above, written out by hand (interfaces as in TEST_INTERFACES). */
const MODEL: ModelRule[] = [
  {
    name: "any",
    group: ipv4("239.1.1.1"),
    port: 5001,
    srcAddr: 0,
    srcBits: 0,
    allowFragments: false,
    outputs: [
      {
        ifindex: 3,
        maxFrame: 1514,
        spec: {
          srcMac: [2, 0, 0, 0, 1, 1],
          src: "10.0.1.1",
          group: "239.9.9.1",
          port: 6001,
          ttl: 5,
        },
      },
      {
        ifindex: 4,
        maxFrame: 1514,
        spec: {
          srcMac: [2, 0, 0, 0, 2, 1],
          src: "10.0.2.1",
          group: "239.9.9.2",
          port: 6002,
          ttl: 64,
          dscp: 46,
        },
        decrement: true,
      },
    ],
  },
  {
    name: "from_net",
    group: ipv4("239.1.1.2"),
    port: 5002,
    srcAddr: ipv4("10.0.0.0"),
    srcBits: 24,
    allowFragments: false,
    outputs: [
      {
        ifindex: 3,
        maxFrame: 1514,
        spec: {
          srcMac: [2, 0, 0, 0, 1, 1],
          src: "10.0.1.1",
          group: "239.9.9.3",
          port: 6003,
          ttl: 64,
        },
        decrement: true,
      },
    ],
  },
  {
    name: "fragments",
    group: ipv4("239.1.1.3"),
    port: 5003,
    srcAddr: 0,
    srcBits: 0,
    allowFragments: true,
    outputs: [
      {
        ifindex: 4,
        maxFrame: 1514,
        spec: {
          srcMac: [2, 0, 0, 0, 2, 1],
          src: "10.0.2.1",
          group: "239.9.9.4",
          port: 6004,
          ttl: 64,
        },
        decrement: true,
      },
      // MTU 576: frames above 590 bytes are too big for it.
      {
        ifindex: 5,
        maxFrame: 590,
        spec: {
          srcMac: [2, 0, 0, 0, 5, 1],
          src: "192.0.2.5",
          group: "239.9.9.5",
          port: 6005,
          ttl: 64,
        },
        decrement: true,
      },
    ],
  },
];

function sourceMatches(r: ModelRule, src: number): boolean {
  return r.srcBits === 0 ||
    Math.floor(src / 2 ** (32 - r.srcBits)) === Math.floor(r.srcAddr / 2 ** (32 - r.srcBits));
}

/** The most specific rule for (group, port, src); port -1: any port, fragment rules only. */
function modelMatch(group: number, port: number, src: number): ModelRule | undefined {
  return MODEL
    .filter((r) =>
      r.group === group && (port === -1 ? r.allowFragments : r.port === port) &&
      sourceMatches(r, src)
    )
    .sort((a, b) => b.srcBits - a.srcBits)[0];
}

type Verdict = { kind: "forward"; rule: ModelRule; fragment: 0 | 1 | 2 } | {
  kind: "drop";
  reason: string;
};

/**
 * The reference classifier: what the relay must do with a frame, written
 * from the drop reasons' definitions (src/stats/registry.ts) with the order
 * of checks spelt out: Ethernet, one optional 802.1Q tag, IPv4 version, IHL,
 * total length, protocol, header checksum, fragment, UDP length, rule.
 */
function classify(f: Uint8Array): Verdict {
  const drop = (reason: string): Verdict => ({ kind: "drop", reason });
  const len = f.length;
  if (len < 14) return drop("truncated");
  let ip = 14;
  let type = get16(f, 12);
  // 802.1Q / 802.1ad tags: the model's rules are all untagged, so a frame with
  // a VLAN (a tag with a VID other than 0) matches none of them.
  let tagged = false;
  while (type === ETHERTYPE_VLAN || type === 0x88a8) {
    if (ip + 4 > len) return drop("truncated");
    if ((get16(f, ip) & 0x0fff) !== 0) tagged = true;
    type = get16(f, ip + 2);
    ip += 4;
  }
  if (type === 0x86dd) return classifyIpv6(f, ip);
  if (type !== 0x0800) return drop("not_ip");
  if (ip + 20 > len) return drop("truncated");
  if (f[ip] >> 4 !== 4) return drop("not_ip");
  const ihl = (f[ip] & 0x0f) * 4;
  if (ihl < 20) return drop("bad_header");
  const total = get16(f, ip + 2);
  if (total < ihl) return drop("bad_header");
  if (ip + total > len) return drop("truncated");
  if (onesSum(f, ip, ip + ihl) !== 0xffff) return drop("bad_header");
  // Another protocol is taken whole; the model has no rule for one.
  if (f[ip + 9] !== 17) return drop("not_udp");
  const src = get32(f, ip + 12);
  const group = get32(f, ip + 16);
  const fragmentWord = get16(f, ip + 6);
  // A packet at its last hop goes nowhere that decrements the TTL.
  const expired = (rule: ModelRule) => f[ip + 8] <= 1 && rule.outputs.every((o) => o.decrement);
  if ((fragmentWord & 0x1fff) !== 0) {
    const rule = tagged ? null : modelMatch(group, -1, src);
    if (!rule) return drop("fragment");
    return expired(rule) ? drop("ttl_expired") : { kind: "forward", rule, fragment: 2 };
  }
  if (total - ihl < 8) return drop("truncated");
  const udpLength = get16(f, ip + ihl + 4);
  const first = (fragmentWord & 0x2000) !== 0;
  if (udpLength < 8 || (!first && udpLength > total - ihl)) return drop("bad_header");
  const rule = tagged ? null : modelMatch(group, get16(f, ip + ihl + 2), src);
  if (!rule) return drop("no_match");
  if (first && !rule.allowFragments) return drop("fragment");
  if (expired(rule)) return drop("ttl_expired");
  return { kind: "forward", rule, fragment: first ? 1 : 0 };
}

/**
 * The reference for IPv6 frames (RFC 8200), checks in this order: version,
 * payload length (0: jumbogram, not relayed), the extension header chain
 * (hop-by-hop only first, routing only with no segments left, one fragment
 * header, at most 8 headers), UDP, its mandatory checksum, its length. The
 * model's rules are IPv4 only, so a valid IPv6 datagram matches nothing.
 */
function classifyIpv6(f: Uint8Array, ip: number): Verdict {
  const drop = (reason: string): Verdict => ({ kind: "drop", reason });
  if (ip + 40 > f.length) return drop("truncated");
  if (f[ip] >> 4 !== 6) return drop("not_ip");
  const payload = get16(f, ip + 4);
  if (payload === 0) return drop("bad_header");
  const end = ip + 40 + payload;
  if (end > f.length) return drop("truncated");
  let next = f[ip + 6];
  let at = ip + 40;
  let headers = 0;
  let fragment = false;
  let more = false;
  while (next !== 17) {
    if (headers === 8) return drop("bad_header");
    headers++;
    if (next === 44) {
      if (fragment) return drop("bad_header");
      if (at + 8 > end) return drop("truncated");
      fragment = true;
      more = (f[at + 3] & 1) === 1;
      const offset = get16(f, at + 2) >> 3;
      next = f[at];
      at += 8;
      if (offset !== 0) return next === 17 ? drop("fragment") : drop("not_udp");
    } else if (next === 0 || next === 43 || next === 60) {
      if (next === 0 && headers !== 1) return drop("bad_header");
      if (at + 8 > end) return drop("truncated");
      if (next === 43 && f[at + 3] !== 0) return drop("bad_header");
      next = f[at];
      at += (f[at + 1] + 1) * 8;
      if (at > end) return drop("truncated");
    } else {
      return drop("not_udp");
    }
  }
  if (end - at < 8) return drop("truncated");
  if (get16(f, at + 6) === 0) return drop("bad_header");
  const udpLength = get16(f, at + 4);
  if (udpLength < 8 || (!(fragment && more) && udpLength > end - at)) return drop("bad_header");
  return drop("no_match");
}

/** The input as the kernel would have sent it: a partial (CSUMNOTREADY) checksum finished. */
function finished(f: Uint8Array, status: number): Uint8Array {
  if ((status & TP_STATUS_CSUMNOTREADY) === 0) return f;
  const copy = f.slice();
  const ip = get16(copy, 12) === ETHERTYPE_VLAN ? 18 : 14;
  const u = ip + (copy[ip] & 0x0f) * 4;
  const c = 0xffff - onesSum(copy, u, u + get16(copy, u + 4));
  put16(copy, u + 6, c === 0 ? 0xffff : c);
  return copy;
}

/** Validity of an unfragmented frame's UDP checksum: "none", "valid" or "broken". */
function udpState(f: Uint8Array): "none" | "valid" | "broken" {
  const ip = get16(f, 12) === ETHERTYPE_VLAN ? 18 : 14;
  const u = ip + (f[ip] & 0x0f) * 4;
  if (get16(f, u + 6) === 0) return "none";
  const pseudo = pseudoHeaderSum(get32(f, ip + 12), get32(f, ip + 16), get16(f, u + 4));
  return onesSum(f, u, u + get16(f, u + 4), pseudo) === 0xffff ? "valid" : "broken";
}

/** The frame with its UDP checksum field zeroed (to compare everything else). */
function withoutUdpChecksum(f: Uint8Array, ip: number): Uint8Array {
  const copy = f.slice();
  put16(copy, ip + (copy[ip] & 0x0f) * 4 + 6, 0);
  return copy;
}

// ---- access checks -------------------------------------------------------------------

/** Where the loop may read and write this turn. */
class AccessRules {
  /** [start, end) of the RX ring, where reads must fall into `readable`. */
  rxStart = 0;
  rxEnd = 0;
  /** [start, end) of the TX rings (read and write freely). */
  txStart = 0;
  txEnd = 0;
  /** [start, end) pairs readable in the RX ring: block header, packet header, captured bytes. */
  readable: number[] = [];
  /** The only RX bytes the loop may write: the block status word. */
  statusStart = 0;
  violations: string[] = [];

  read(off: number, size: number, what: string): void {
    if (off >= this.txStart && off + size <= this.txEnd) return;
    for (let i = 0; i < this.readable.length; i += 2) {
      if (off >= this.readable[i] && off + size <= this.readable[i + 1]) return;
    }
    this.violations.push(
      `${what} read [${off}, ${
        off + size
      }) outside the block header, packet header and captured bytes`,
    );
  }

  write(off: number, size: number, what: string): void {
    if (off >= this.txStart && off + size <= this.txEnd) return;
    if (off === this.statusStart && size === 4) return;
    this.violations.push(`${what} write [${off}, ${off + size}) outside the TX rings`);
  }
}

/** DataView's constructor without its generic signature (TypeScript cannot extend that directly). */
const DataViewBase: new (buffer: ArrayBuffer) => DataView<ArrayBuffer> = DataView;

/** A DataView that checks every access of the loop against AccessRules. */
class CheckedView extends DataViewBase {
  constructor(buffer: ArrayBuffer, readonly rules: AccessRules) {
    super(buffer);
  }
  override getUint8(o: number): number {
    this.rules.read(o, 1, "getUint8");
    return super.getUint8(o);
  }
  override getUint16(o: number, le?: boolean): number {
    this.rules.read(o, 2, "getUint16");
    return super.getUint16(o, le);
  }
  override getUint32(o: number, le?: boolean): number {
    this.rules.read(o, 4, "getUint32");
    return super.getUint32(o, le);
  }
  override getInt32(o: number, le?: boolean): number {
    this.rules.read(o, 4, "getInt32");
    return super.getInt32(o, le);
  }
  override setUint8(o: number, v: number): void {
    this.rules.write(o, 1, "setUint8");
    super.setUint8(o, v);
  }
  override setUint16(o: number, v: number, le?: boolean): void {
    this.rules.write(o, 2, "setUint16");
    super.setUint16(o, v, le);
  }
  override setUint32(o: number, v: number, le?: boolean): void {
    this.rules.write(o, 4, "setUint32");
    super.setUint32(o, v, le);
  }
  override setInt32(o: number, v: number, le?: boolean): void {
    this.rules.write(o, 4, "setInt32");
    super.setInt32(o, v, le);
  }
}

/** The same for the Uint8Array the loop copies with. */
class CheckedBytes extends Uint8Array {
  static rules: AccessRules;
  override copyWithin(target: number, start: number, end?: number): this {
    const stop = end ?? this.length;
    CheckedBytes.rules.read(start, stop - start, "copyWithin");
    CheckedBytes.rules.write(target, stop - start, "copyWithin");
    return super.copyWithin(target, start, stop);
  }
  override set(array: ArrayLike<number>, offset = 0): void {
    CheckedBytes.rules.write(offset, array.length, "set");
    super.set(array, offset);
  }
}

// ---- frame generators -------------------------------------------------------------------

/** A valid UDP frame aimed at the rules (or near them). */
const baseFrame: fc.Arbitrary<UdpFrameOptions> = fc.record({
  vlanIds: fc.constantFrom([], [], [], [7]),
  src: fc.constantFrom("10.0.0.5", "10.0.0.200", "10.0.1.5", "192.168.1.1"),
  target: fc.constantFrom<[string, number]>(
    ["239.1.1.1", 5001],
    ["239.1.1.1", 5001],
    ["239.1.1.2", 5002],
    ["239.1.1.3", 5003],
    ["239.1.1.3", 5003],
    ["239.1.1.1", 5002], // a known group on another rule's port
    ["239.2.1.1", 5001], // a group no rule listens to
    ["224.0.0.251", 5353],
  ),
  ttl: fc.integer({ min: 0, max: 255 }),
  tos: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 65535 }),
  ipOptions: fc.integer({ min: 0, max: 10 }).chain((n) =>
    fc.oneof(
      fc.constant(new Uint8Array(n * 4).fill(1)),
      fc.uint8Array({ minLength: n * 4, maxLength: n * 4 }),
    )
  ),
  payload: fc.oneof(
    fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: 500, max: 1472 }),
    fc.integer({ min: 1473, max: 2000 }),
  ),
  moreFragments: fc.constantFrom(false, false, false, true),
  fragmentOffset: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 185),
  protocol: fc.constantFrom(17, 17, 17, 17, 17, 17, 17, 17, IPPROTO_TCP, IPPROTO_ICMP),
  udpChecksum: fc.constantFrom(
    "valid" as const,
    "valid" as const,
    "none" as const,
    "partial" as const,
  ),
  ethernetPadding: fc.constantFrom(0, 0, 0, 6, 20),
}).map(({ target, ...rest }) => ({ ...rest, dst: target[0], dstPort: target[1] }));

type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "poke"; at: number; value: number }
  | { kind: "total"; value: number }
  | { kind: "udpLength"; value: number }
  | { kind: "udpChecksum"; value: number }
  | { kind: "ihl"; value: number }
  | { kind: "ethertype"; value: number }
  | { kind: "fragment"; value: number }
  | { kind: "pad"; bytes: number }
  | { kind: "tags"; tpids: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat({ max: 2100 }) }),
  fc.record({
    kind: fc.constant("poke" as const),
    at: fc.nat({ max: 90 }),
    value: fc.nat({ max: 255 }),
  }),
  fc.record({
    kind: fc.constant("total" as const),
    value: fc.oneof(fc.nat({ max: 80 }), fc.nat({ max: 0xffff })),
  }),
  fc.record({
    kind: fc.constant("udpLength" as const),
    value: fc.oneof(fc.nat({ max: 16 }), fc.nat({ max: 0xffff })),
  }),
  fc.record({
    kind: fc.constant("udpChecksum" as const),
    value: fc.constantFrom(0, 0xffff, 1, 0x1234),
  }),
  fc.record({ kind: fc.constant("ihl" as const), value: fc.nat({ max: 15 }) }),
  fc.record({
    kind: fc.constant("ethertype" as const),
    value: fc.constantFrom(0x0806, ETHERTYPE_IPV6, ETHERTYPE_VLAN, 0, 0xffff),
  }),
  fc.record({
    kind: fc.constant("fragment" as const),
    value: fc.constantFrom(0x2000, 0x0001, 0x3fff, 0x4000, 0x8000, 0x1fff),
  }),
  fc.record({ kind: fc.constant("pad" as const), bytes: fc.nat({ max: 40 }) }),
  fc.record({
    kind: fc.constant("tags" as const),
    tpids: fc.array(fc.constantFrom(ETHERTYPE_VLAN, ETHERTYPE_QINQ), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
);

function ipStart(f: Uint8Array): number {
  let ip = 14;
  while (f.length >= ip && (get16(f, ip - 2) === ETHERTYPE_VLAN || get16(f, ip - 2) === 0x88a8)) {
    ip += 4;
  }
  return ip;
}

function mutate(frame: Uint8Array, m: Mutation): Uint8Array {
  const f = frame.slice();
  const ip = ipStart(f);
  const have = (n: number): boolean => n <= f.length;
  const udp = have(ip + 1) ? ip + (f[ip] & 0x0f) * 4 : 0;
  switch (m.kind) {
    case "truncate":
      return f.slice(0, Math.min(m.at, f.length));
    case "poke":
      if (m.at < f.length) f[m.at] = m.value;
      return f;
    case "total":
      if (have(ip + 4)) put16(f, ip + 2, m.value);
      return f;
    case "udpLength":
      if (have(udp + 6)) put16(f, udp + 4, m.value);
      return f;
    case "udpChecksum":
      if (have(udp + 8)) put16(f, udp + 6, m.value);
      return f;
    case "ihl":
      if (have(ip + 1)) f[ip] = (f[ip] & 0xf0) | m.value;
      return f;
    case "ethertype":
      if (have(ip)) put16(f, ip - 2, m.value);
      return f;
    case "fragment":
      if (have(ip + 8)) put16(f, ip + 6, m.value);
      return f;
    case "pad": {
      const padded = new Uint8Array(f.length + m.bytes);
      padded.set(f);
      return padded;
    }
    case "tags": {
      if (!have(14)) return f;
      const tagged = new Uint8Array(f.length + 4 * m.tpids.length);
      tagged.set(f.subarray(0, 12));
      m.tpids.forEach((tpid, i) => {
        put16(tagged, 12 + 4 * i, tpid);
        put16(tagged, 14 + 4 * i, 100 + i);
      });
      tagged.set(f.subarray(12), 12 + 4 * m.tpids.length);
      return tagged;
    }
  }
}

/** One fuzz case: the frame and the ring's status flags for it. */
interface FuzzCase {
  frame: Uint8Array;
  status: number;
}

const mutatedCase: fc.Arbitrary<FuzzCase> = fc.record({
  base: baseFrame,
  mutations: fc.oneof(
    fc.constant([] as Mutation[]),
    fc.array(mutation, { minLength: 1, maxLength: 3 }),
  ),
  // Most mutated headers get a valid checksum again, so they reach the checks behind it.
  fixChecksum: fc.constantFrom(true, true, true, false),
  vlanValid: fc.boolean(),
  lieAboutOffload: fc.constantFrom(
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    true,
  ),
  // A first fragment's UDP length covers the whole datagram, beyond this frame.
  restOfDatagram: fc.nat({ max: 3000 }),
}).map(({ base, mutations, fixChecksum, vlanValid, lieAboutOffload, restOfDatagram }) => {
  const payload = typeof base.payload === "number" ? base.payload : 0;
  const first = base.moreFragments && !base.fragmentOffset;
  let frame = udpFrame(first ? { ...base, udpLength: 8 + payload + restOfDatagram } : base);
  for (const m of mutations) frame = mutate(frame, m);
  const ip = ipStart(frame);
  if (
    fixChecksum && frame.length >= ip + 20 && (frame[ip] & 0x0f) >= 5 &&
    frame.length >= ip + (frame[ip] & 0x0f) * 4
  ) {
    fixIpChecksum(frame);
  }
  let partial = base.udpChecksum === "partial";
  if (lieAboutOffload) partial = !partial;
  const status = (partial ? TP_STATUS_CSUMNOTREADY : 0) | (vlanValid ? TP_STATUS_VLAN_VALID : 0);
  return { frame, status };
});

const randomCase: fc.Arbitrary<FuzzCase> = fc.record({
  frame: fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 120 }),
    // A valid Ethernet + IPv4 start followed by random bytes.
    fc.uint8Array({ minLength: 0, maxLength: 200 }).map((tail) => {
      const f = new Uint8Array(14 + tail.length);
      put16(f, 12, 0x0800);
      f.set(tail, 14);
      if (f.length > 14) f[14] = 0x40 | (f[14] & 0x0f);
      return f;
    }),
  ),
  status: fc.constantFrom(0, TP_STATUS_CSUMNOTREADY),
});

const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { arbitrary: mutatedCase, weight: 9 },
  { arbitrary: randomCase, weight: 1 },
);

// ---- the run -----------------------------------------------------------------------------

interface Harness {
  arena: FakeArena;
  kicker: FakeKicker;
  state: ReturnType<typeof fakeLoopState>;
  access: AccessRules;
  inputs: ReturnType<typeof fakeWorker>["inputs"];
  ruleSlot: Map<string, number>;
  outputSlot: Map<ModelOutput, number>;
}

function harness(): Harness {
  const plan = planFor(CONFIG);
  // 8 KiB blocks hold any frame the generators make; 4 TX frames a ring are plenty for one packet.
  const w = fakeWorker(plan, { blockSize: 8192, blockCount: 2, txFrames: 4 });
  for (const t of w.arena.tx) t.poison();
  const access = new AccessRules();
  const rx = w.arena.rx[0];
  access.rxStart = rx.offset;
  access.rxEnd = rx.offset + rx.blockSize * rx.blockCount;
  access.txStart = w.arena.tx[0].offset;
  const lastTx = w.arena.tx[w.arena.tx.length - 1];
  access.txEnd = lastTx.offset + lastTx.frameSize * lastTx.frameCount;
  // The guard ranges between TX rings are not TX: writes there are caught by checkGuards() at the end.
  CheckedBytes.rules = access;
  const state = fakeLoopState(
    w.arena,
    { inputs: w.inputs, txPorts: w.txPorts },
    w.kicker,
    { view: new CheckedView(w.arena.buffer, access), bytes: new CheckedBytes(w.arena.buffer) },
  );
  const ruleSlot = new Map(plan.rules.map((r) => [r.name, r.slot]));
  const outputSlot = new Map<ModelOutput, number>();
  for (const r of MODEL) {
    const planned = plan.rules.find((p) => p.name === r.name)!;
    r.outputs.forEach((o, i) => outputSlot.set(o, planned.outputs[i].slot));
  }
  return {
    arena: w.arena,
    kicker: w.kicker,
    state,
    access,
    inputs: w.inputs,
    ruleSlot,
    outputSlot,
  };
}

const outcomes = new Map<string, number>();

function tally(name: string): void {
  outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
}

/** Runs one frame through processBlock() and checks everything the file header promises. */
function runCase(h: Harness, c: FuzzCase): void {
  const { arena, state, access } = h;
  // A case that failed part-way (while fast-check shrinks) may have left frames queued.
  for (const t of arena.tx) {
    for (let i = 0; i < t.frameCount; i++) if (t.status(i) !== 0) t.restoreFrame(i);
  }
  const input = h.inputs[0];
  const rx = arena.rx[0];
  const block = input.cursor;
  const [pkt] = rx.fillBlock(block, [{ frame: c.frame, status: c.status }]);
  const blk = rx.blockOffset(block);
  const mac = pkt + arena.view.getUint16(pkt + TP3_MAC, true);
  const snaplen = arena.view.getUint32(pkt + TP3_SNAPLEN, true);
  access.readable = [blk, blk + 48, pkt, pkt + 48, mac, mac + snaplen];
  access.statusStart = blk + 8;
  access.violations = [];
  h.kicker.submitted.length = 0;

  const before = workerCounters(state);
  const ruleBefore = new Map(
    MODEL.map((r) => [r.name, ruleCounters(state, h.ruleSlot.get(r.name)!).packets]),
  );
  const outBefore = new Map([...h.outputSlot].map(([o, slot]) => [o, outputCounters(state, slot)]));

  assert.equal(processBlock(state, input), 1);
  assert.deepEqual(access.violations, []);

  const after = workerCounters(state);
  const delta = (name: string): number => after[name] - before[name];
  assert.equal(delta("rx_packets"), 1);
  const counted = [
    "matched",
    ...DROP_REASONS.map((d) => `drop_${d.name}`),
  ]
    .filter((name) => delta(name) !== 0);
  assert.equal(counted.length, 1, `counted under ${counted.join(", ") || "nothing"}`);
  assert.equal(delta(counted[0]), 1);

  const verdict = classify(c.frame);
  const outcome = verdict.kind === "forward" ? "matched" : `drop_${verdict.reason}`;
  assert.equal(counted[0], outcome, "the reference classifier disagrees");
  tally(outcome);

  // TX: the frame each ring received this turn (each ring gets at most one copy per packet here).
  const queued = new Map<number, Uint8Array>();
  for (const t of arena.tx) {
    for (let i = 0; i < t.frameCount; i++) {
      const problem = t.checkFrame(i);
      assert.equal(problem, "", `ring of ifindex ${t.ifindex}: ${problem}`);
      if (t.status(i) !== TP_STATUS_SEND_REQUEST) continue;
      assert.ok(!queued.has(t.ifindex), `two copies on ifindex ${t.ifindex}`);
      queued.set(t.ifindex, t.data(i));
      t.restoreFrame(i);
    }
  }

  if (verdict.kind === "drop") {
    assert.equal(queued.size, 0, "a dropped frame queued a copy");
  } else {
    const { rule, fragment } = verdict;
    assert.equal(
      ruleCounters(state, h.ruleSlot.get(rule.name)!).packets - ruleBefore.get(rule.name)!,
      1,
    );
    // Only a whole datagram's checksum can be finished; fragments keep their bytes.
    const effective = fragment === 0 ? finished(c.frame, c.status) : c.frame;
    const ip = ipStart(c.frame);
    const total = get16(c.frame, ip + 2);
    let copies = 0;
    for (const o of rule.outputs) {
      const counters = outputCounters(state, h.outputSlot.get(o)!);
      const was = outBefore.get(o)!;
      const out = queued.get(o.ifindex);
      const inTtl = c.frame[ip + 8];
      if (o.decrement && inTtl <= 1) {
        assert.equal(out, undefined, "a copy with its TTL run out was queued");
        assert.equal(counters.ttl_expired - was.ttl_expired, 1);
        tally("copy ttl_expired");
        continue;
      }
      if (14 + total > o.maxFrame) {
        assert.equal(out, undefined, "a too-big copy was queued");
        assert.equal(counters.too_big - was.too_big, 1);
        tally("copy too_big");
        continue;
      }
      copies++;
      assert.ok(out, `no copy on ifindex ${o.ifindex}`);
      assert.equal(counters.packets - was.packets, 1);
      // The IPv4 header always verifies; the UDP checksum is judged below.
      assert.deepEqual(verifyFrame(out).filter((p) => !p.startsWith("UDP checksum")), []);
      const expected = expectedRewrite(
        effective,
        o.decrement ? { ...o.spec, ttl: inTtl - 1 } : o.spec,
      );
      let exact = fragment === 2; // a later fragment: nothing but the IPv4 header changes
      tally(
        fragment === 0
          ? "copy whole datagram"
          : fragment === 1
          ? "copy first fragment"
          : "copy later fragment",
      );
      if (fragment === 0) {
        const want = udpState(effective);
        tally(
          `copy UDP checksum ${want}${
            (c.status & TP_STATUS_CSUMNOTREADY) !== 0 ? " (finished)" : ""
          }`,
        );
        assert.equal(udpState(out), want, "UDP checksum validity must be the input's");
        exact = want !== "broken"; // the model recomputes checksums, so it only matches valid or absent ones
      }
      const diff = exact
        ? hexDiff(out, expected)
        : hexDiff(withoutUdpChecksum(out, 14), withoutUdpChecksum(expected, 14));
      assert.equal(diff, "", `output differs from the model\n${diff}`);
    }
    assert.equal(queued.size, copies, "copies on rings without an output");
    assert.equal(delta("tx_sent"), copies);
  }

  // The RX frame was only read.
  const kept = arena.bytes.subarray(mac, mac + snaplen);
  for (let i = 0; i < snaplen; i++) {
    if (kept[i] !== c.frame[i]) assert.fail(`RX frame byte ${i} was modified`);
  }
}

Deno.test(`forwardPacket() (through processBlock()) takes ${RUNS} hostile frames: each forwarded correctly or counted under one drop reason`, () => {
  const h = harness();
  const started = performance.now();
  fc.assert(
    fc.property(fuzzCase, (c) => runCase(h, c)),
    { numRuns: RUNS, seed: SEED === undefined ? undefined : Number(SEED) },
  );
  assert.deepEqual(h.arena.checkGuards(), [], "guard bytes between rings untouched");
  for (const t of h.arena.tx) assert.deepEqual(t.checkFrames(), []);
  // Every outcome was exercised.
  const expected = [
    ...[
      "matched",
      "drop_truncated",
      "drop_not_ip",
      "drop_bad_header",
      "drop_not_udp",
      "drop_fragment",
      "drop_no_match",
    ],
    ...[
      "copy too_big",
      "copy first fragment",
      "copy later fragment",
      "copy UDP checksum valid (finished)",
    ],
    ...["copy UDP checksum valid", "copy UDP checksum broken", "copy UDP checksum none"],
  ];
  for (const name of expected) {
    assert.ok((outcomes.get(name) ?? 0) > 0, `no case of "${name}"`);
  }
  if (LONG_RUN) {
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz: ${RUNS} frames in ${seconds.toFixed(1)} s`,
      Object.fromEntries([...outcomes].sort()),
    );
  }
});
