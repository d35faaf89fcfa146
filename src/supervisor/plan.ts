/**
 * Config -> worker plan. Pure: it takes the configuration, what is known
 * about the interfaces and the counter slots, and returns the structured-
 * cloneable plan every worker applies. Addresses become int32 words here
 * (one for IPv4, four for IPv6, big-endian as they sit in the packet), so
 * the data path never parses text.
 */
import {
  type Config,
  DEFAULT_TTL,
  inputDestination,
  type Output,
  outputDestination,
  protocolNumber,
  type Rule,
} from "../config/schema.ts";
import {
  canonicalText,
  type Family,
  familyOf,
  formatIp,
  ip,
  ipWords,
  prefixWords,
} from "../net/address.ts";
import type { OutputPlan, RulePlan, RxPlan, TxPlan, WorkerPlan } from "../dataplane/plan_types.ts";
import { TTL_DECREMENT, vlanKey } from "../dataplane/plan_types.ts";
import { DEFAULT_NAP_US, DEFAULT_RATE_PPS, rxGeometry, txGeometry } from "./ring_geometry.ts";

export type {
  FilterEntry,
  OutputPlan,
  RulePlan,
  RxPlan,
  TxPlan,
  WorkerPlan,
} from "../dataplane/plan_types.ts";

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

/** Rules that forward (enabled unless `enabled: false`). */
export function activeRules(config: Config): Rule[] {
  return config.rules.filter((r) => r.enabled !== false);
}

/** Names of every interface the active rules use, as inputs and outputs. */
export function interfacesOf(config: Config): { inputs: string[]; outputs: string[] } {
  const inputs = new Set<string>();
  const outputs = new Set<string>();
  for (const r of activeRules(config)) {
    inputs.add(r.input.interface);
    for (const o of r.outputs) if (o.interface !== undefined) outputs.add(o.interface);
  }
  return { inputs: [...inputs], outputs: [...outputs] };
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
 * Rule plans from earlier builds, by rule object: a rule whose object, slots
 * and interfaces are unchanged gets the SAME RulePlan object back, so a
 * change of one rule among 10,000 builds one rule plan, and the workers are
 * sent only what changed (worker_pool.ts ruleDelta()).
 */
export class RulePlanCache {
  #byRule = new WeakMap<Rule, { key: string; plan: RulePlan }>();
  /** A short id per distinct interface description, so rule keys stay short. */
  #factsIds = new Map<string, number>();
  factsId(json: string): number {
    let id = this.#factsIds.get(json);
    if (id === undefined) {
      if (this.#factsIds.size >= 10_000) this.#factsIds.clear();
      this.#factsIds.set(json, id = this.#factsIds.size + 1);
    }
    return id;
  }
  get(rule: Rule, key: string): RulePlan | undefined {
    const hit = this.#byRule.get(rule);
    return hit && hit.key === key ? hit.plan : undefined;
  }
  set(rule: Rule, key: string, plan: RulePlan): void {
    this.#byRule.set(rule, { key, plan });
  }
}

/**
 * Builds the plan. `interfaces` holds the interfaces that exist now: rules
 * whose input is absent, and outputs whose interface is absent or (l2) has
 * no address of the output's family when no source_ip is set, are left out
 * until they appear. `slots` holds every active rule's counter slots;
 * `fanoutIds` an id per input interface when more than one worker runs.
 */
export function buildPlan(
  config: Config,
  interfaces: ReadonlyMap<string, InterfaceFacts>,
  slots: ReadonlyMap<string, RuleSlots>,
  fanoutIds: ReadonlyMap<string, number>,
  generation: number,
  cache: RulePlanCache = new RulePlanCache(),
): WorkerPlan {
  const ring = config.ring ?? {};
  /** What a rule plan depends on besides the rule: its slots and its interfaces' facts. */
  const factsKeys = new Map<string, number>();
  const factsKey = (name: string | undefined): number => {
    if (name === undefined) return 0;
    let k = factsKeys.get(name);
    if (k === undefined) {
      factsKeys.set(name, k = cache.factsId(JSON.stringify(interfaces.get(name) ?? null)));
    }
    return k;
  };
  const outputUsable = (o: Output): boolean => {
    if (o.egress === "routed") return o.interface === undefined || interfaces.has(o.interface);
    // An l2 output needs its interface, whatever source address it writes.
    const f = interfaces.get(o.interface!);
    return f !== undefined && outputSource(o, f) !== null;
  };
  // Rules wait (are left out) while their input is absent or none of their outputs is usable.
  // A rule with no outputs at all is one whose on-demand outputs nobody asks for now
  // (src/supervisor/demand.ts; a configured rule has at least one): it is planned, so its
  // input is read and counted, ready for the first receiver, and its health judged.
  const rules = activeRules(config).filter((r) =>
    interfaces.has(r.input.interface) && (r.outputs.length === 0 || r.outputs.some(outputUsable))
  );

  const workers = config.workers ?? 1;
  /** Spread rules (several workers write their copies) read their interface from rings of their own. */
  const spreads = (r: Rule) => r.spread === true && workers > 1;
  const rxByName = new Map<string, RxPlan>();
  /** (interface, destination, port) already in a filter: linear, not quadratic, in rules. */
  const filterKeys = new Set<string>();
  const rateByName = new Map<string, number | undefined>();
  /** Interfaces some rule reads with `gso`: their ring carries segmentation headers. */
  const gsoInputs = new Set(
    rules.filter((r) => r.input.gso === true).map((r) => r.input.interface),
  );
  // An input's expected rate is the sum of its rules' declared rates, and at
  // least DEFAULT_RATE_PPS: rules that declare none share that default
  // (each counting it in full built 256 MiB rings for nine rules).
  for (const r of rules) {
    const name = r.input.interface;
    rateByName.set(name, (rateByName.get(name) ?? 0) + (r.rate_pps ?? 0));
  }
  for (const [name, rate] of rateByName) {
    rateByName.set(name, Math.max(rate ?? 0, DEFAULT_RATE_PPS));
  }
  const rulePlans = rules.map((r) => {
    const s = slots.get(r.name);
    if (!s) throw new Error(`rule "${r.name}" has no counter slot`);
    let key = `${s.rule}|${factsKey(r.input.interface)}|${spreads(r)}|${s.stream ?? ""}|${
      s.streamEpoch ?? ""
    }`;
    for (let i = 0; i < r.outputs.length; i++) {
      key += `|${s.outputs[i]}:${factsKey(r.outputs[i].interface)}`;
    }
    const hit = cache.get(r, key);
    if (hit) return hit;
    const plan = rulePlan(r, s, spreads(r));
    cache.set(r, key, plan);
    return plan;
  });

  rules.forEach((r, i) => {
    const name = r.input.interface;
    const facts = interfaces.get(name)!;
    const spread = spreads(r);
    const ringName = spread ? `${name}|spread` : name;
    let rx = rxByName.get(ringName);
    if (!rx) {
      rx = {
        ifname: name,
        ifindex: facts.ifindex,
        geometry: rxGeometry(rateByName.get(name), facts.mtu, ring, gsoInputs.has(name)),
        fanoutId: spread ? 0 : fanoutIds.get(name) ?? 0,
        filter: [],
        passFragments: false,
        spread,
      };
      rxByName.set(ringName, rx);
    }
    const p = rulePlans[i];
    // A filter entry's port word: the UDP port, or 0x10000 | protocol for another protocol (c/filter.c).
    const port = p.protocol === undefined || p.protocol === 17 ? p.port : 0x10000 | p.protocol;
    const key = `${ringName}|${p.dst.join()}|${port}`;
    if (!filterKeys.has(key)) {
      filterKeys.add(key);
      rx.filter.push({ family: p.family, dst: p.dst, port });
    }
    if (r.allow_fragments) rx.passFragments = true;
  });

  const txByName = new Map<string, TxPlan>();
  for (const r of rules) {
    for (const o of r.outputs) {
      if (o.egress === "routed" || txByName.has(o.interface!) || !outputUsable(o)) continue;
      const facts = interfaces.get(o.interface!)!;
      txByName.set(o.interface!, {
        ifname: o.interface!,
        ifindex: facts.ifindex,
        mac: facts.mac,
        mtu: facts.mtu,
        geometry: txGeometry(facts.mtu, ring),
      });
    }
  }

  function rulePlan(r: Rule, s: RuleSlots, spread: boolean): RulePlan {
    const dst = ip(inputDestination(r.input));
    const src = sourceFilter(r.input.source, dst.family);
    const inputMtu = interfaces.get(r.input.interface)!.mtu;
    const outputs: OutputPlan[] = [];
    r.outputs.forEach((o, i) => {
      if (!outputUsable(o)) return;
      const facts = o.interface === undefined ? undefined : interfaces.get(o.interface);
      const family = outputFamily(o);
      const routed = o.egress === "routed";
      const zeros = family === 4 ? [0] : [0, 0, 0, 0];
      outputs.push({
        egress: routed ? "routed" : "l2",
        ifindex: facts?.ifindex ?? 0,
        slot: s.outputs[i],
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
      });
    });
    return {
      name: r.name,
      slot: s.rule,
      inputIfindex: interfaces.get(r.input.interface)!.ifindex,
      family: dst.family,
      dst: ipWords(dst),
      port: r.input.port ?? 0,
      protocol: protocolNumber(r.input),
      srcAddr: src.addr,
      srcMask: src.mask,
      srcPrefix: src.length,
      allowFragments: r.allow_fragments ?? false,
      vlan: vlanKey(r.input.outer_vlan ?? 0, r.input.vlan ?? 0),
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
      outputs,
    };
  }

  return {
    generation,
    rx: [...rxByName.values()],
    tx: [...txByName.values()],
    rules: rulePlans,
    busyPollUs: ring.busy_poll_us ?? 0,
    // Naps only make sense where a packet would wake the loop: frames rings.
    napUs: (ring.rx_mode ?? "frames") === "frames" ? ring.nap_us ?? DEFAULT_NAP_US : 0,
    workerCount: workers,
    workerCpus: config.worker_cpus ?? [],
  };
}

/**
 * A membership: family, group and (for source-specific membership) one
 * source, as canonical address text.
 */
export interface MembershipKey {
  family: Family;
  group: string;
  /** null: any source (IGMPv2/v3, MLDv1/v2 EXCLUDE {}). */
  source: string | null;
}

/**
 * The memberships each input interface needs (IGMP for IPv4 groups, MLD for
 * IPv6; unicast inputs need none). Where every rule on a (interface, group)
 * names a single sender, the relay joins source-specifically (IGMPv3 / MLDv2
 * INCLUDE {S...}), so upstream sends only those senders; if any rule on it
 * takes any sender or a prefix, one any-source join covers them all (the
 * rules' source filters still apply per packet, most specific first).
 */
export function wantedMemberships(config: Config): Map<string, MembershipKey[]> {
  const byGroup = new Map<
    string,
    { ifname: string; family: Family; group: string; sources: Set<string>; any: boolean }
  >();
  for (const r of activeRules(config)) {
    if (r.input.group === undefined) continue; // unicast input
    const group = canonicalText(r.input.group);
    const family = familyOf(group);
    const k = `${r.input.interface}|${group}`;
    const entry = byGroup.get(k) ??
      { ifname: r.input.interface, family, group, sources: new Set<string>(), any: false };
    const src = r.input.source;
    const single = src !== undefined &&
      sourceFilter(src, family).length === (family === 4 ? 32 : 128);
    if (!single) entry.any = true;
    else entry.sources.add(canonicalText(src!.split("/")[0]));
    byGroup.set(k, entry);
  }
  const out = new Map<string, MembershipKey[]>();
  for (const e of byGroup.values()) {
    const list = out.get(e.ifname) ?? [];
    if (e.any) list.push({ family: e.family, group: e.group, source: null });
    else for (const s of e.sources) list.push({ family: e.family, group: e.group, source: s });
    out.set(e.ifname, list);
  }
  return out;
}

/** A unicast input's port, held by an absorbing socket so the host does not answer it. */
export interface UnicastPort {
  ifname: string;
  family: Family;
  address: string;
  port: number;
}

/** The unicast inputs of the active rules (one per interface, address and port). */
export function unicastPorts(config: Config): UnicastPort[] {
  const seen = new Map<string, UnicastPort>();
  for (const r of activeRules(config)) {
    if (r.input.address === undefined || r.input.port === undefined) continue; // only a UDP port is held
    const a = ip(r.input.address);
    const u = {
      ifname: r.input.interface,
      family: a.family,
      address: formatIp(a),
      port: r.input.port,
    };
    seen.set(`${u.ifname}|${u.address}|${u.port}`, u);
  }
  return [...seen.values()];
}
