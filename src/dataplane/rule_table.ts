/**
 * Stage "match": the compiled rule table of one worker. Built at plan time
 * from plain plan objects; looked up per packet with a small-integer Map key.
 *
 * Every class here initialises all of its fields in the constructor, in a
 * fixed order, and never adds or deletes one, so V8 keeps them monomorphic.
 * Addresses are stored as int32 words (the u32 value | 0), the form
 * parseFrame() reads them in: an IPv4 address is one word, an IPv6 address
 * four (big-endian, as in the packet).
 */
import { not16 } from "../net/checksum.ts";
import * as H from "../net/headers.ts";
import { LoopGuard } from "./loop_guard.ts";
import type { MergeLeg } from "../merge/merge_stage.ts";
import type { StreamInspector } from "../streams/inspector.ts";
import { TTL_DECREMENT } from "./plan_types.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const IP6_DST = H.IP6_DST;
const IP6_SRC = H.IP6_SRC;

/** A TX ring of one output interface, as the loop sees it. */
export class TxPort {
  /** Next frame index to fill. */
  head = 0;
  /** Identity of the ring (see tables.ts): cursors carry over only to the same ring. */
  ringId = 0;
  /** Frames marked SEND_REQUEST since the last kick. */
  pending = 0;
  constructor(
    readonly ifindex: number,
    readonly fd: number,
    /** Byte offset of the ring inside the worker's arena. */
    readonly offset: number,
    readonly frameSize: number,
    readonly frameCount: number,
    /** The interface's MAC address (source MAC of relayed frames). */
    readonly mac: Uint8Array,
    /** Largest frame this output can send: min(TX frame data area, MTU + 14). */
    readonly maxFrame: number,
  ) {}
}

/**
 * A routed output's kernel UDP socket and its batch: datagram payloads are
 * copied into fixed slots of a batch area inside the worker's arena (so the
 * copy is a copyWithin, like a TX frame), their lengths into `lengths`, and
 * one sendmmsg() per flush sends them all (forward_loop.ts flush()).
 */
export class RoutedPort {
  /** Datagrams waiting in the batch. */
  count = 0;
  /** In LoopState.dirtyRouted until the next flush (a full batch sent mid-block stays listed). */
  queued = false;
  constructor(
    readonly fd: number,
    /** The destination sockaddr, built once. */
    readonly name: Uint8Array,
    readonly slotSize: number,
    readonly slots: number,
    /** Arena offset of the batch area (slots * slotSize bytes). */
    readonly dataOffset: number,
    readonly lengths: Int32Array,
    /** The output's counter slot (sends are counted when the kernel has taken them). */
    readonly counterSlot: number,
  ) {}
}

/** Output.ttl when the output writes the input's TTL (hop limit) minus one. */
export { TTL_DECREMENT };

/** Output kinds. */
export const EGRESS_L2 = 0;
export const EGRESS_ROUTED = 1;

/** One copy of a stream: where it goes and the constants of its rewrite. */
export class Output {
  /** Checksum delta of the fixed part of the UDP rewrite (addresses and port), see below. */
  readonly udpDelta: number;
  /** IPv4 identification of the next packet built from scratch (translated from IPv6). */
  ipId = 0;
  constructor(
    readonly egress: number,
    /** The TX ring (EGRESS_L2), else null. */
    readonly tx: TxPort | null,
    /** The socket (EGRESS_ROUTED), else null. */
    readonly routed: RoutedPort | null,
    /** Counter slot (src/stats/registry.ts OUTPUT_COUNTERS). */
    readonly slot: number,
    /** 4 or 6. */
    readonly family: number,
    /** Destination address words (1 or 4). */
    readonly dst: Int32Array,
    readonly port: number,
    /** Source address words (1 or 4). */
    readonly src: Int32Array,
    readonly ttl: number,
    /** DSCP << 2, or -1 to keep the input's TOS / traffic class. */
    readonly tos: number,
    /** 01:00:5e + low 23 bits of an IPv4 group; 33:33 + low 32 bits of an IPv6 one. */
    readonly dstMac: Uint8Array,
    /** The rule's input destination words and port (what the packet carries before rewriting). */
    inputDst: Int32Array,
    inputPort: number,
    /** 802.1Q VLAN id the frames are tagged with (0: untagged). */
    readonly vlan = 0,
    /** UDP source port written (-1: the sender's kept; a merge's outputs write one). */
    readonly srcPort = -1,
  ) {
    // RFC 1624: everything the UDP checksum covers that changes for every
    // packet of this output is known now (the pseudo header's destination
    // and source, the destination port), except the old source address,
    // which varies per sender and is added per packet (sourceDelta*).
    // Translation between families only changes which address words the
    // pseudo header holds: its length and protocol words are the same.
    this.udpDelta = wordsDelta(inputDst, dst) + halfWordsSum(src) + not16(inputPort) +
      (port & 0xffff);
  }
}

/** ~old + new over every 16-bit half of two address word lists (lengths may differ). */
function wordsDelta(from: Int32Array, to: Int32Array): number {
  let d = 0;
  for (let i = 0; i < from.length; i++) d += not16(from[i] >>> 16) + not16(from[i] & 0xffff);
  return d + halfWordsSum(to);
}

function halfWordsSum(words: Int32Array): number {
  let d = 0;
  for (let i = 0; i < words.length; i++) d += ((words[i] >>> 16) & 0xffff) + (words[i] & 0xffff);
  return d;
}

/** A compiled rule. Rules sharing a Map key are chained through `next`, most specific first. */
export class Rule {
  /** Next rule with the same ruleKey (in InputPort.rules). */
  next: Rule | null = null;
  /** Next rule with the same fragmentKey (in InputPort.fragmentRules). */
  nextFragment: Rule | null = null;
  constructor(
    /** Counter slot (RULE_COUNTERS). */
    readonly slot: number,
    /** 4 or 6. */
    readonly family: number,
    /** IPv4 destination, or the last word of an IPv6 one (the word parseFrame puts in F_GROUP). */
    readonly group: number,
    readonly port: number,
    /** IPv4 source filter: (src & srcMask) === srcAddr; mask 0 accepts any sender. */
    readonly srcAddr: number,
    readonly srcMask: number,
    /** IPv6: destination words, source filter words and masks (empty for IPv4 rules). */
    readonly dst6: Int32Array,
    readonly srcAddr6: Int32Array,
    readonly srcMask6: Int32Array,
    /** Source prefix length: longer prefixes are tried first. */
    readonly srcPrefix: number,
    readonly allowFragments: boolean,
    readonly outputs: Output[],
    /** The VLAN tags a frame must carry (plan_types.ts vlanKey; 0: untagged only). */
    readonly vlan = 0,
    /** IP protocol (17: UDP, matched with its port; another: its payload is carried as it is). */
    readonly protocol = 17,
    /** This worker counts the rule's packets (a spread rule is taken by every worker, counted by one). */
    readonly counted = true,
    /** Stream inspection of the rule's input in this worker, or null (src/streams/inspector.ts). */
    readonly inspector: StreamInspector | null = null,
    /** A merge rule's leg: the pair that decides whether a datagram is sent (src/merge/), or null. */
    readonly merge: MergeLeg | null = null,
  ) {
    this.fixedTtl = outputs.some((o) => o.ttl !== TTL_DECREMENT);
    this.guard = this.fixedTtl ? new LoopGuard() : null;
  }
  /** Some output writes a fixed TTL: packets arriving with TTL 1 still go there, and the loop guard is on. */
  readonly fixedTtl: boolean;
  readonly guard: LoopGuard | null;
}

/** An RX ring of one input interface and the rules that listen on it. */
export class InputPort {
  /** Index of the next block (frames mode: frame) to look at. */
  cursor = 0;
  /** Identity of the ring (see tables.ts). */
  ringId = 0;
  /** The ring's key in its worker (plan_types.ts rxKey): the interface, or a spread ring of it. */
  key = 0;
  /** Ring succession (succession.ts): CUT_NONE, or which side of the cut this ring forwards. */
  cut = 0;
  /** The cut and the settle time after it (µs, CLOCK_REALTIME). */
  cutUs = 0;
  settleUs = 0;
  constructor(
    readonly ifindex: number,
    readonly fd: number,
    readonly offset: number,
    /** Bytes of one unit: a V3 block, or (frames) a V2 frame. */
    readonly blockSize: number,
    /** Units in the ring: blocks, or (frames) frames. */
    readonly blockCount: number,
    /** ruleKey(family, group, port) -> chain of rules. */
    readonly rules: Map<number, Rule>,
    /** fragmentKey(family, group) -> chain of rules that accept later fragments. */
    readonly fragmentRules: Map<number, Rule>,
    /** A TPACKET_V2 frames ring (processFrames) rather than V3 blocks (processBlock). */
    readonly frames = false,
    /**
     * Source addresses this relay writes on its outputs (IPv4 word; IPv6 last
     * word, as F_SRC holds them): a packet from one of them may be a return (loop_guard.ts).
     */
    readonly ownSources: ReadonlySet<number> = new Set(),
    /** Every packet comes with a virtio_net_hdr before its MAC header (an input with `gso`). */
    readonly vnet = false,
  ) {}
}

/**
 * Map key for (family, destination word, port): low 13 bits of the word, a
 * family bit and the 16-bit port, which stays below 2^30 so V8 keeps it a
 * small integer (larger keys allocated a heap number on every lookup). The
 * full destination and port are compared after the lookup.
 */
export function ruleKey(family: number, group: number, port: number): number {
  return ((group & 0x1fff) << 17) | (family === 6 ? 0x10000 : 0) | port;
}

/** Map key for later fragments, which carry no port: the family and the low 29 bits of the word. */
export function fragmentKey(family: number, group: number): number {
  return (family === 6 ? 0x20000000 : 0) | (group & 0x1fffffff);
}

/** Whether the packet's IPv6 destination (4 words at dstOff) and source (at srcOff) fit the rule. */
function matches6(view: DataView, dstOff: number, srcOff: number, rule: Rule): boolean {
  const d = rule.dst6;
  const a = rule.srcAddr6;
  const m = rule.srcMask6;
  return view.getInt32(dstOff) === d[0] && view.getInt32(dstOff + 4) === d[1] &&
    view.getInt32(dstOff + 8) === d[2] &&
    (view.getInt32(srcOff) & m[0]) === a[0] && (view.getInt32(srcOff + 4) & m[1]) === a[1] &&
    (view.getInt32(srcOff + 8) & m[2]) === a[2] && (view.getInt32(srcOff + 12) & m[3]) === a[3];
}

/**
 * Finds the rule for the parsed packet in a chain, or null. For IPv4 `src`
 * is the source address; for IPv6 the addresses are read at `ip` (the IPv6
 * header) and `group` (its destination's last word) only narrows the search.
 */
export function matchRule(
  table: Map<number, Rule>,
  family: number,
  group: number,
  port: number,
  src: number,
  view: DataView,
  ip: number,
  vlan = 0,
  protocol = 17,
): Rule | null {
  let rule: Rule | null | undefined = table.get(ruleKey(family, group, port));
  while (rule !== undefined && rule !== null) {
    if (
      rule.group === group && rule.port === port && rule.vlan === vlan && rule.protocol === protocol
    ) {
      if (
        family === 4
          ? (src & rule.srcMask) === rule.srcAddr
          : matches6(view, ip + IP6_DST, ip + IP6_SRC, rule)
      ) return rule;
    }
    rule = rule.next;
  }
  return null;
}

/** Finds a fragment-accepting rule for a later fragment (destination and source only), or null. */
export function matchFragment(
  table: Map<number, Rule>,
  family: number,
  group: number,
  src: number,
  view: DataView,
  ip: number,
  vlan = 0,
  protocol = 17,
): Rule | null {
  let rule: Rule | null | undefined = table.get(fragmentKey(family, group));
  while (rule !== undefined && rule !== null) {
    if (rule.group === group && rule.vlan === vlan && rule.protocol === protocol) {
      if (
        family === 4
          ? (src & rule.srcMask) === rule.srcAddr
          : matches6(view, ip + IP6_DST, ip + IP6_SRC, rule)
      ) return rule;
    }
    rule = rule.nextFragment;
  }
  return null;
}

/**
 * Inserts rules into a key -> chain map so that each chain is ordered most
 * specific source first ((S,G) before (*,G): the most specific rule wins).
 */
export function buildChains(
  rules: readonly Rule[],
  keyOf: (r: Rule) => number,
  link: "next" | "nextFragment",
): Map<number, Rule> {
  const lists = new Map<number, Rule[]>();
  for (const r of rules) {
    const k = keyOf(r);
    const list = lists.get(k);
    if (list) list.push(r);
    else lists.set(k, [r]);
  }
  const table = new Map<number, Rule>();
  for (const [k, list] of lists) {
    list.sort((a, b) => b.srcPrefix - a.srcPrefix);
    for (let i = 0; i < list.length; i++) list[i][link] = i + 1 < list.length ? list[i + 1] : null;
    table.set(k, list[0]);
  }
  return table;
}
