/**
 * One rule's plan: its input as words (destination, source filter, VLAN
 * key), its outputs that can be used now, and its inspect settings. Pure;
 * plan.ts composes rule plans into a worker plan and keeps a rule's plan
 * object while nothing it depends on changed (RulePlanCache), so workers
 * are sent only what changed.
 */
import {
  DEFAULT_TTL,
  type Input,
  inputDestination,
  type Output,
  outputDestination,
  protocolNumber,
  type Rule,
  ruleInputs,
} from "../config/schema.ts";
import type { LegInputPlan, MergePlan } from "../merge/merge_stage.ts";
import { type Family, ip, ipWords, prefixWords } from "../net/address.ts";
import type { OutputPlan, RulePlan } from "../dataplane/plan_types.ts";
import { TTL_DECREMENT, vlanKey } from "../dataplane/plan_types.ts";

/** What the plan needs to know about an interface. */
export interface InterfaceFacts {
  name: string;
  ifindex: number;
  mtu: number;
  /** IPv4 address as u32, 0 when it has none. */
  ipv4: number;
  /** Preferred IPv6 address (global, else link-local) as 16 bytes, null when it has none. */
  ipv6?: number[] | null;
  mac: number[];
}

/** Counter slots of a rule and of each of its outputs. */
export interface RuleSlots {
  rule: number;
  outputs: number[];
  /** The stream block of an inspected rule (src/streams/stream_slots.ts). */
  stream?: number;
  /** Its settings' epoch: a new one starts the stream's figures again in every worker. */
  streamEpoch?: number;
  /** A merge rule's block (src/merge/merge_slots.ts): kept while its merge settings are. */
  merge?: { block: SharedArrayBuffer; tableSize: number; epoch: number };
}

/** Source filter of an input as words: any sender when no source is given. */
export function sourceFilter(
  source: string | undefined,
  family: Family,
): { addr: number[]; mask: number[]; length: number } {
  const zeros = family === 4 ? [0] : [0, 0, 0, 0];
  if (source === undefined) return { addr: zeros, mask: zeros.slice(), length: 0 };
  const p = prefixWords(source);
  return { addr: p.addr, mask: p.mask, length: p.length };
}

/** The family of an output's destination (memoised: asked several times per output on every plan). */
const familyMemo = new Map<string, Family>();
function outputFamily(o: Output): Family {
  const text = outputDestination(o);
  let f = familyMemo.get(text);
  if (f === undefined) {
    f = ip(text).family;
    if (familyMemo.size >= 100_000) familyMemo.clear();
    familyMemo.set(text, f);
  }
  return f;
}

/** The source address words an l2 output writes: source_ip, else the interface's address of its family. */
function outputSource(o: Output, f: InterfaceFacts | undefined): number[] | null {
  if (o.source_ip !== undefined) return ipWords(ip(o.source_ip));
  if (!f) return null;
  if (outputFamily(o) === 4) return f.ipv4 !== 0 ? [f.ipv4 | 0] : null;
  if (!f.ipv6) return null;
  return ipWords({ family: 6, bytes: new Uint8Array(f.ipv6) });
}

/**
 * Whether an output can be planned now: a routed one needs its interface if
 * it names one; an l2 one needs its interface and an address of its family
 * (or source_ip).
 */
export function outputUsable(o: Output, interfaces: ReadonlyMap<string, InterfaceFacts>): boolean {
  if (o.egress === "routed") return o.interface === undefined || interfaces.has(o.interface);
  const f = interfaces.get(o.interface!);
  return f !== undefined && outputSource(o, f) !== null;
}

/** One usable output's plan; `inputMtu` bounds what a routed output may be given. */
function outputPlan(
  o: Output,
  slot: number,
  facts: InterfaceFacts | undefined,
  inputMtu: number,
  merged: boolean,
): OutputPlan {
  const family = outputFamily(o);
  const routed = o.egress === "routed";
  const zeros = family === 4 ? [0] : [0, 0, 0, 0];
  return {
    egress: routed ? "routed" : "l2",
    ifindex: facts?.ifindex ?? 0,
    slot,
    family,
    dst: ipWords(ip(outputDestination(o))),
    port: o.port ?? 0, // 0: not UDP, the payload is carried as it is
    src: routed
      ? (o.source_ip !== undefined ? ipWords(ip(o.source_ip)) : zeros)
      : outputSource(o, facts)!,
    hasSrc: o.source_ip !== undefined,
    // l2 outputs decrement the input's TTL unless `ttl` is set; a routed
    // output's socket has one TTL for all it sends (64 unless set).
    ttl: o.ttl ?? (routed ? DEFAULT_TTL : TTL_DECREMENT),
    tos: o.dscp === undefined ? -1 : o.dscp << 2,
    maxPayload: Math.max(1500, inputMtu),
    vlan: o.vlan ?? 0,
    // A merge's legs may come from senders on different ports: its output is one stream.
    ...(!routed && (o.source_port !== undefined || merged)
      ? { srcPort: o.source_port ?? o.port ?? 0 }
      : {}),
  };
}

/** How an input's datagrams are matched: its interface, destination, port, senders and tags. */
function inputMatch(input: Input, f: InterfaceFacts): LegInputPlan {
  const dst = ip(inputDestination(input));
  const src = sourceFilter(input.source, dst.family);
  return {
    ifindex: f.ifindex,
    family: dst.family,
    dst: ipWords(dst),
    port: input.port ?? 0,
    srcAddr: src.addr,
    srcMask: src.mask,
    srcPrefix: src.length,
    vlan: vlanKey(input.outer_vlan ?? 0, input.vlan ?? 0),
  };
}

/**
 * A rule's plan; at least one of its inputs' interfaces is in `interfaces`
 * (a merge plans the legs whose interface exists; the rule's own match
 * fields are its first such leg's).
 */
export function rulePlan(
  r: Rule,
  s: RuleSlots,
  spread: boolean,
  interfaces: ReadonlyMap<string, InterfaceFacts>,
): RulePlan {
  const inputs = ruleInputs(r);
  const legs = inputs.flatMap((input, leg) => {
    const f = interfaces.get(input.interface);
    return f ? [{ ...inputMatch(input, f), leg }] : [];
  });
  const main = inputs[legs[0].leg];
  const mtu = Math.max(...inputs.map((i) => interfaces.get(i.interface)?.mtu ?? 0));
  const outputs: OutputPlan[] = [];
  r.outputs.forEach((o, i) => {
    if (!outputUsable(o, interfaces)) return;
    const facts = o.interface === undefined ? undefined : interfaces.get(o.interface);
    outputs.push(outputPlan(o, s.outputs[i], facts, mtu, r.merge !== undefined));
  });
  const { leg: _, ...match } = legs[0];
  return {
    name: r.name,
    slot: s.rule,
    inputIfindex: match.ifindex,
    family: match.family,
    dst: match.dst,
    port: match.port,
    protocol: protocolNumber(main),
    srcAddr: match.srcAddr,
    srcMask: match.srcMask,
    srcPrefix: match.srcPrefix,
    allowFragments: r.allow_fragments ?? false,
    vlan: match.vlan,
    spread,
    ...(r.inspect && s.stream !== undefined
      ? {
        inspect: {
          mode: r.inspect.mode,
          slot: s.stream,
          epoch: s.streamEpoch ?? 0,
          clockRate: r.inspect.clock_rate ?? 0,
          pcrRepetitionMs: r.inspect.pcr_repetition_ms ?? 100,
          pidPeriodMs: r.inspect.pid_period_ms ?? 5000,
        },
      }
      : {}),
    ...(r.merge && s.merge ? { merge: mergePlan(r, s.merge, legs) } : {}),
    outputs,
  };
}

/** What the worker that merges a pair is told: its legs, key, mode, window and block. */
function mergePlan(
  r: Rule,
  block: NonNullable<RuleSlots["merge"]>,
  legs: (LegInputPlan & { leg: number })[],
): MergePlan {
  const m = r.merge!;
  const key = m.key ?? "rtp";
  const seq = typeof key === "object" ? key.sequence : null;
  return {
    block: block.block,
    tableSize: block.tableSize,
    epoch: block.epoch,
    legCount: m.legs.length,
    legs,
    key: typeof key === "object" ? "sequence" : key,
    seqOffset: seq?.offset ?? 0,
    seqWidth: seq?.width ?? 2,
    seqLittle: seq?.endian === "little",
    countOffset: seq?.count?.offset ?? 0,
    countWidth: seq?.count?.width ?? 0,
    countLittle: seq?.count?.endian === "little",
    mode: m.mode ?? "pass-through",
    windowUs: (m.window_ms ?? 450) * 1000,
    delayUs: (m.delay_ms ?? 50) * 1000,
    primary: m.failover?.primary ?? 0,
    holdOffUs: (m.failover?.hold_off_ms ?? 200) * 1000,
    clearUs: (m.failover?.clear_ms ?? 5000) * 1000,
    owner: MERGE_OWNER,
  };
}

/** The worker that merges every pair: its legs are read from rings of its own (RxPlan.owner). */
export const MERGE_OWNER = 0;

/**
 * Rule plans from earlier builds, by rule object: a rule whose object, slots
 * and interfaces are unchanged gets the SAME RulePlan object back, so a
 * change of one rule among 10,000 builds one rule plan, and the workers are
 * sent only what changed (worker_pool.ts ruleDelta()).
 */
export class RulePlanCache {
  #byRule = new WeakMap<
    Rule,
    { key: string; facts: number[]; plan: RulePlan; slots: RuleSlots; spread: boolean; all: number }
  >();
  /** A short id per distinct interface description, so rule keys stay short. */
  #factsIds = new Map<string, number>();

  #factsId(json: string): number {
    let id = this.#factsIds.get(json);
    if (id === undefined) {
      if (this.#factsIds.size >= 10_000) this.#factsIds.clear();
      this.#factsIds.set(json, id = this.#factsIds.size + 1);
    }
    return id;
  }

  /**
   * A planner for one build over `interfaces`: a rule's plan, the cached one
   * while its object, slots, spread and interfaces' facts are unchanged.
   */
  planner(
    interfaces: ReadonlyMap<string, InterfaceFacts>,
  ): (r: Rule, s: RuleSlots, spread: boolean) => RulePlan {
    const factsKeys = new Map<string, number>();
    // Every interface's facts at once: while none changed, a rule whose object and slot
    // assignment are the same ones is the cached plan without a look at its interfaces.
    const all = this.#factsId(JSON.stringify([...interfaces.entries()]));
    const factsKey = (name: string | undefined): number => {
      if (name === undefined) return 0;
      let k = factsKeys.get(name);
      if (k === undefined) {
        factsKeys.set(name, k = this.#factsId(JSON.stringify(interfaces.get(name) ?? null)));
      }
      return k;
    };
    return (r, s, spread) => {
      const hit = this.#byRule.get(r);
      if (hit && hit.slots === s && hit.spread === spread && hit.all === all) return hit.plan;
      // The facts of the interfaces the rule uses, inputs then outputs: compared as numbers.
      const inputs = ruleInputs(r);
      const facts: number[] = [];
      for (const input of inputs) facts.push(factsKey(input.interface));
      for (const o of r.outputs) facts.push(factsKey(o.interface));
      const key = `${s.rule}|${spread}|${s.stream ?? ""}|${s.streamEpoch ?? ""}|${
        s.merge?.epoch ?? ""
      }|${s.outputs.join()}`;
      const plan = hit && hit.key === key && sameNumbers(hit.facts, facts)
        ? hit.plan
        : rulePlan(r, s, spread, interfaces);
      this.#byRule.set(r, { key, facts, plan, slots: s, spread, all });
      return plan;
    };
  }
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
