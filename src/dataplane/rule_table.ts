/**
 * Stage "match": the compiled rule table of one worker. Built at plan time
 * from plain plan objects; looked up per packet with a small-integer Map key.
 *
 * Every class here initialises all of its fields in the constructor, in a
 * fixed order, and never adds or deletes one, so V8 keeps them monomorphic.
 * Addresses are stored as int32 (the u32 value | 0), the form parseFrame()
 * reads them in.
 */
import { delta16, delta32 } from "./checksum.ts";

/** A TX ring of one output interface, as the loop sees it. */
export class TxPort {
  /** Next frame index to fill. */
  head = 0;
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

/** One copy of a stream: where it goes and the constants of its rewrite. */
export class Output {
  /** Checksum delta of the fixed part of the UDP rewrite (dst address, dst port, new src). */
  readonly udpDelta: number;
  constructor(
    readonly tx: TxPort,
    /** Counter slot (src/stats/registry.ts OUTPUT_COUNTERS). */
    readonly slot: number,
    readonly group: number,
    readonly port: number,
    readonly srcIp: number,
    readonly ttl: number,
    /** DSCP << 2, or -1 to keep the input's TOS byte. */
    readonly tos: number,
    /** 01:00:5e + low 23 bits of the group. */
    readonly dstMac: Uint8Array,
    inputGroup: number,
    inputPort: number,
  ) {
    // RFC 1624: the words that change for every packet of this output are
    // known now; only the old source address (varies per sender) is added
    // per packet (see rewrite.ts).
    this.udpDelta = delta32(inputGroup >>> 0, group >>> 0) + delta16(inputPort, port) +
      ((srcIp >>> 16) & 0xffff) + (srcIp & 0xffff);
  }
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
    readonly group: number,
    readonly port: number,
    /** Source filter: (src & srcMask) === srcAddr; mask 0 accepts any sender. */
    readonly srcAddr: number,
    readonly srcMask: number,
    readonly allowFragments: boolean,
    readonly outputs: Output[],
  ) {}
}

/** An RX ring of one input interface and the rules that listen on it. */
export class InputPort {
  /** Index of the next block to look at. */
  cursor = 0;
  constructor(
    readonly ifindex: number,
    readonly fd: number,
    readonly offset: number,
    readonly blockSize: number,
    readonly blockCount: number,
    /** ruleKey(group, port) -> chain of rules. */
    readonly rules: Map<number, Rule>,
    /** fragmentKey(group) -> chain of rules that accept later fragments. */
    readonly fragmentRules: Map<number, Rule>,
  ) {}
}

/**
 * Map key for (group, port): low 14 bits of the group and the 16-bit port,
 * which stays below 2^30 so V8 keeps it a small integer (larger keys
 * allocated a heap number on every lookup). The full group and port are
 * compared after the lookup.
 */
export function ruleKey(group: number, port: number): number {
  return ((group & 0x3fff) << 16) | port;
}

/** Map key for later fragments, which carry no port: the low 30 bits of the group. */
export function fragmentKey(group: number): number {
  return group & 0x3fffffff;
}

/** Finds the rule for (group, port, src) in a chain, or null. */
export function matchRule(
  table: Map<number, Rule>,
  group: number,
  port: number,
  src: number,
): Rule | null {
  let rule: Rule | null | undefined = table.get(ruleKey(group, port));
  while (rule !== undefined && rule !== null) {
    if (rule.group === group && rule.port === port && (src & rule.srcMask) === rule.srcAddr) {
      return rule;
    }
    rule = rule.next;
  }
  return null;
}

/** Finds a fragment-accepting rule for a later fragment (group and source only), or null. */
export function matchFragment(table: Map<number, Rule>, group: number, src: number): Rule | null {
  let rule: Rule | null | undefined = table.get(fragmentKey(group));
  while (rule !== undefined && rule !== null) {
    if (rule.group === group && (src & rule.srcMask) === rule.srcAddr) return rule;
    rule = rule.nextFragment;
  }
  return null;
}

/** Prefix length of a source mask (number of leading one bits). */
function maskLength(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
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
    list.sort((a, b) => maskLength(b.srcMask) - maskLength(a.srcMask));
    for (let i = 0; i < list.length; i++) list[i][link] = i + 1 < list.length ? list[i + 1] : null;
    table.set(k, list[0]);
  }
  return table;
}

/** The Ethernet multicast MAC of an IPv4 group: 01:00:5e + low 23 bits. */
export function groupMac(group: number): Uint8Array {
  return new Uint8Array([0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff]);
}
