/**
 * Plan -> loop tables: turns a WorkerPlan plus the worker's open rings and
 * routed sockets into the monomorphic objects the forwarding loop reads
 * (InputPort, TxPort, RoutedPort, Rule, Output). Pure, so tests build tables
 * over fake rings.
 */
import { TP2_DATA } from "../../ffi/layout.ts";
import { fromWords, multicastMac } from "../net/address.ts";
import { ETH_HLEN } from "../net/headers.ts";
import { type OutputPlan, type RulePlan, rxKey, type WorkerPlan } from "./plan_types.ts";
import { StreamInspector } from "../streams/inspector.ts";
import { type HoldArea, type LegInputPlan, MergeLeg, MergePair } from "../merge/merge_stage.ts";
import {
  buildChains,
  EGRESS_L2,
  EGRESS_ROUTED,
  fragmentKey,
  InputPort,
  Output,
  RoutedPort,
  Rule,
  ruleKey,
  TxPort,
} from "./rule_table.ts";

/** An open RX ring as the tables need it. */
export interface RxRingRef {
  /** Unique per ring ever opened (fd numbers are reused; a new ring never inherits a cursor). */
  id: number;
  fd: number;
  offset: number;
  blockSize: number;
  blockCount: number;
  /** TPACKET_V2 frames (frameSize each, frameCount of them) rather than V3 blocks. */
  frames?: boolean;
  frameSize?: number;
  frameCount?: number;
  /** PACKET_VNET_HDR: a segmentation header before every packet's MAC header. */
  vnet?: boolean;
}

/** An open TX ring as the tables need it. */
export interface TxRingRef {
  /** Unique per ring ever opened. */
  id: number;
  fd: number;
  offset: number;
  frameSize: number;
  frameCount: number;
}

/** An open routed-output socket and its batch area, as the tables need it. */
export interface RoutedRef {
  fd: number;
  name: Uint8Array;
  slotSize: number;
  slots: number;
  dataOffset: number;
}

/** The Ethernet destination of an l2 output (routed outputs have none: the kernel resolves it). */
function outputMac(o: OutputPlan): Uint8Array {
  return o.egress === "l2" ? multicastMac(fromWords(o.family, o.dst)) : new Uint8Array(6);
}

/**
 * The loop objects built for each rule plan (by object identity), kept by
 * the worker between plans: a rule whose plan object is unchanged and whose
 * TX ports and routed sockets are still the ones in force is not rebuilt (a
 * rule added to 10,000 builds one Rule, not 10,001).
 */
export type RuleCache = Map<RulePlan, BuiltRule>;

/** The loop objects of one rule plan: a Rule per input ring key (a merge: one per leg). */
export interface BuiltRule {
  rules: { key: number; rule: Rule }[];
  /** Its routed outputs' ports (one per output, shared by a merge's legs). */
  routedPorts: RoutedPort[];
  tx: (TxPort | null)[];
  routed: (RoutedRef | null)[];
  share: string;
  /** A merge rule: its pair and legs. */
  merged?: MergedPair;
}

/** Which of the workers this one is (spread rules' outputs are shared out by position), and its stream blocks. */
export interface WorkerShare {
  index: number;
  count: number;
  /** Where inspected streams' figures go (null: nothing is inspected, e.g. in tests). */
  streams?: Float64Array | null;
  /** Arena memory for resequencing merges' held frames, by rule name (worker_rings.ts). */
  holds?: ReadonlyMap<string, HoldArea>;
}

/** A pair this worker merges, and its legs' rules by leg index (what a held frame is sent with). */
export interface MergedPair {
  pair: MergePair;
  legRules: Rule[];
}

function sameBytes(a: Uint8Array, b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Builds the tables. `previous` keeps ring cursors across plans: a TX port
 * whose ring (same ring id, not merely the same fd number) is kept continues
 * at its head (the same TxPort object, when nothing about it changed); an
 * input keeps its block cursor. A re-created ring starts at block / frame 0,
 * where the kernel starts. `cache` (updated in place) reuses the loop
 * objects of unchanged rules.
 */
export function buildTables(
  plan: WorkerPlan,
  rxRings: ReadonlyMap<number, RxRingRef>,
  txRings: ReadonlyMap<number, TxRingRef>,
  previous: { inputs: readonly InputPort[]; txPorts: readonly TxPort[] } = {
    inputs: [],
    txPorts: [],
  },
  routedSockets: ReadonlyMap<number, RoutedRef> = new Map(),
  cache: RuleCache = new Map(),
  worker: WorkerShare = { index: 0, count: 1 },
): { inputs: InputPort[]; txPorts: TxPort[]; routedPorts: RoutedPort[]; merges: MergedPair[] } {
  const txPorts = txPortsFor(plan, txRings, previous.txPorts);
  const routedPorts: RoutedPort[] = [];
  const rulesByInput = new Map<number, Rule[]>();
  const current = new Set(txPorts.values());
  const kept: RuleCache = new Map();
  const add = (r: RulePlan, built: BuiltRule) => {
    kept.set(r, built);
    routedPorts.push(...built.routedPorts);
    for (const { key, rule } of built.rules) {
      const list = rulesByInput.get(key);
      if (list) list.push(rule);
      else rulesByInput.set(key, [rule]);
    }
  };
  for (const r of plan.rules) {
    // A merge is done by its owner alone (the others do not read its legs).
    if (r.merge !== undefined && r.merge.owner >= 0 && r.merge.owner !== worker.index) continue;
    const hit = cache.get(r);
    if (
      hit && hit.share === shareOf(r, worker) &&
      hit.tx.every((t) => t === null || current.has(t)) &&
      hit.routed.every((ref, i) => ref === null || routedSockets.get(r.outputs[i].slot) === ref)
    ) {
      add(r, hit);
      continue;
    }
    add(r, ruleFor(r, worker, txPorts, routedSockets));
  }
  const inputs = inputsFor(plan, rxRings, rulesByInput, previous.inputs, worker);
  cache.clear();
  for (const [k, v] of kept) cache.set(k, v);
  // The pairs this worker merges.
  const merges = [...kept.values()].flatMap((b) => b.merged ?? []);
  return { inputs, txPorts: [...txPorts.values()], routedPorts, merges };
}

/** The TX ports of a plan, by ifindex: the previous port where its ring and facts are unchanged. */
function txPortsFor(
  plan: WorkerPlan,
  txRings: ReadonlyMap<number, TxRingRef>,
  previous: readonly TxPort[],
): Map<number, TxPort> {
  const txPorts = new Map<number, TxPort>();
  for (const t of plan.tx) {
    const ring = txRings.get(t.ifindex);
    if (!ring) throw new Error(`no TX ring open for interface "${t.ifname}"`);
    const old = previous.find((p) => p.ringId === ring.id);
    // The frame's data area (after its tpacket2 header), and the MTU plus the Ethernet header.
    const maxFrame = Math.min(ring.frameSize - TP2_DATA, t.mtu + ETH_HLEN);
    if (
      old && old.ifindex === t.ifindex && old.fd === ring.fd && old.maxFrame === maxFrame &&
      sameBytes(old.mac, t.mac)
    ) {
      txPorts.set(t.ifindex, old);
      continue;
    }
    const port = new TxPort(
      t.ifindex,
      ring.fd,
      ring.offset,
      ring.frameSize,
      ring.frameCount,
      new Uint8Array(t.mac),
      maxFrame,
    );
    port.ringId = ring.id;
    if (old) port.head = old.head;
    txPorts.set(t.ifindex, port);
  }
  return txPorts;
}

/** A spread rule's share of its outputs in this worker ("" for a rule every worker writes whole). */
function shareOf(r: RulePlan, worker: WorkerShare): string {
  return r.spread ? `${worker.index}/${worker.count}` : "";
}

/** A spread rule: this worker writes the outputs at positions p with p % count === index. */
function mine(r: RulePlan, p: number, worker: WorkerShare): boolean {
  return !r.spread || p % worker.count === worker.index;
}

/** One output's loop object, on its TX port or routed socket (`routed`: the rule's port for it). */
function outputFor(
  r: RulePlan,
  o: OutputPlan,
  txPorts: ReadonlyMap<number, TxPort>,
  routed: RoutedPort | null,
  input: { dst: Int32Array; port: number },
): Output {
  let tx: TxPort | null = null;
  if (o.egress !== "routed") {
    tx = txPorts.get(o.ifindex) ?? null;
    if (!tx) throw new Error(`rule "${r.name}": no TX port for ifindex ${o.ifindex}`);
  }
  return new Output(
    o.egress === "routed" ? EGRESS_ROUTED : EGRESS_L2,
    tx,
    routed,
    o.slot,
    o.family,
    Int32Array.from(o.dst),
    o.port,
    Int32Array.from(o.src),
    o.ttl,
    o.tos,
    outputMac(o),
    input.dst,
    input.port,
    o.vlan ?? 0,
    o.srcPort ?? -1,
  );
}

/** A routed output's port over its socket and batch area. */
function routedPortFor(
  r: RulePlan,
  o: OutputPlan,
  refs: ReadonlyMap<number, RoutedRef>,
): RoutedPort {
  const ref = refs.get(o.slot);
  if (!ref) throw new Error(`rule "${r.name}": no routed socket for output slot ${o.slot}`);
  return new RoutedPort(
    ref.fd,
    ref.name,
    ref.slotSize,
    ref.slots,
    ref.dataOffset,
    new Int32Array(ref.slots),
    o.slot,
  );
}

/** A rule plan's loop objects and what they were built on (the cache entry). */
function ruleFor(
  r: RulePlan,
  worker: WorkerShare,
  txPorts: ReadonlyMap<number, TxPort>,
  routedSockets: ReadonlyMap<number, RoutedRef>,
): BuiltRule {
  const mineAt = r.outputs.map((_, p) => mine(r, p, worker));
  const routedPorts = r.outputs.map((o, p) =>
    o.egress === "routed" && mineAt[p] ? routedPortFor(r, o, routedSockets) : null
  );
  const counted = !r.spread || worker.index === 0;
  // A spread rule's packets reach every worker: one of them inspects the stream.
  const inspector = r.inspect !== undefined && worker.streams && counted
    ? new StreamInspector(r.inspect, worker.streams)
    : null;
  const compile = (m: LegInputPlan, merge: MergeLeg | null): Rule => {
    const input = { dst: Int32Array.from(m.dst), port: m.port };
    const outputs = r.outputs.flatMap((o, p) =>
      mineAt[p] ? [outputFor(r, o, txPorts, routedPorts[p], input)] : []
    );
    const v6 = m.family === 6;
    return new Rule(
      r.slot,
      m.family,
      m.dst[m.dst.length - 1],
      m.port,
      v6 ? 0 : m.srcAddr[0],
      v6 ? 0 : m.srcMask[0],
      Int32Array.from(v6 ? m.dst : []),
      Int32Array.from(v6 ? m.srcAddr : []),
      Int32Array.from(v6 ? m.srcMask : []),
      m.srcPrefix,
      r.allowFragments,
      outputs,
      m.vlan,
      r.protocol ?? 17,
      counted,
      inspector,
      merge,
    );
  };
  let rules: { key: number; rule: Rule }[];
  let merged: MergedPair | undefined;
  if (r.merge !== undefined) {
    const pair = new MergePair(r.merge, worker.holds?.get(r.name) ?? null);
    const owner = r.merge.owner;
    rules = r.merge.legs.map((leg) => ({
      key: rxKey(leg.ifindex, false, owner),
      rule: compile(leg, new MergeLeg(pair, leg.leg)),
    }));
    const legRules: Rule[] = [];
    r.merge.legs.forEach((leg, i) => legRules[leg.leg] = rules[i].rule);
    merged = { pair, legRules };
  } else {
    const fields: LegInputPlan = { ...r, ifindex: r.inputIfindex, vlan: r.vlan ?? 0 };
    rules = [{ key: rxKey(r.inputIfindex, r.spread), rule: compile(fields, null) }];
  }
  return {
    rules,
    routedPorts: routedPorts.filter((p): p is RoutedPort => p !== null),
    tx: rules[0].rule.outputs.map((o) => o.tx),
    routed: r.outputs.map((o, p) =>
      o.egress === "routed" && mineAt[p] ? routedSockets.get(o.slot)! : null
    ),
    share: shareOf(r, worker),
    ...(merged ? { merged } : {}),
  };
}

/** The input ports: one per RX ring, with its rules chained by key; an input keeps its cursor. */
function inputsFor(
  plan: WorkerPlan,
  rxRings: ReadonlyMap<number, RxRingRef>,
  rulesByInput: ReadonlyMap<number, Rule[]>,
  previous: readonly InputPort[],
  worker: WorkerShare,
): InputPort[] {
  // The relay's own source addresses: a packet from one may be its own copy coming back (the loop guard).
  const ownSources = new Set<number>();
  for (const r of plan.rules) {
    for (const o of r.outputs) {
      if (o.hasSrc || o.egress === "l2") ownSources.add(o.src[o.src.length - 1]);
    }
  }
  const inputs: InputPort[] = [];
  for (const rx of plan.rx) {
    if (rx.owner !== undefined && rx.owner !== worker.index) continue;
    const key = rxKey(rx.ifindex, rx.spread, rx.owner);
    const ring = rxRings.get(key);
    if (!ring) throw new Error(`no RX ring open for interface "${rx.ifname}"`);
    const rules = rulesByInput.get(key) ?? [];
    const input = portOnRing(
      rx.ifindex,
      key,
      ring,
      buildChains(rules, (r) => ruleKey(r.family, r.group, r.port), "next"),
      buildChains(
        rules.filter((r) => r.allowFragments),
        (r) => fragmentKey(r.family, r.group),
        "nextFragment",
      ),
      ownSources,
    );
    const old = previous.find((p) => p.ringId === ring.id);
    if (old) input.cursor = old.cursor;
    inputs.push(input);
  }
  return inputs;
}

/**
 * The InputPort that reads `ring` for these rule chains: the one place a
 * ring's geometry (frames or blocks, segmentation headers) becomes a port.
 * buildTables() uses it, and so does a ring succession for the predecessor
 * ring that shares its successor's rules (worker_rings.ts).
 */
export function portOnRing(
  ifindex: number,
  key: number,
  ring: RxRingRef,
  rules: Map<number, Rule>,
  fragmentRules: Map<number, Rule>,
  ownSources: ReadonlySet<number>,
): InputPort {
  const frames = ring.frames === true;
  const port = new InputPort(
    ifindex,
    ring.fd,
    ring.offset,
    // A frames ring is walked frame by frame: its unit is the frame.
    frames ? ring.frameSize! : ring.blockSize,
    frames ? ring.frameCount! : ring.blockCount,
    rules,
    fragmentRules,
    frames,
    ownSources,
    ring.vnet === true,
  );
  port.ringId = ring.id;
  port.key = key;
  return port;
}
