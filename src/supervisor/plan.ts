/**
 * Config -> worker plan. Pure: it takes the configuration, what is known
 * about the interfaces and the counter slots, and returns the structured-
 * cloneable plan every worker applies: the rules' plans (rule_plan.ts), the
 * RX and TX rings they need, the memberships and unicast ports to hold. Addresses become int32 words here
 * (one for IPv4, four for IPv6, big-endian as they sit in the packet), so
 * the data path never parses text.
 */
import {
  type Config,
  type Input,
  type RingOptions,
  type Rule,
  ruleInputs,
} from "../config/schema.ts";
import { canonicalText, type Family, familyOf, formatIp, ip } from "../net/address.ts";
import type { RulePlan, RxPlan, TxPlan, WorkerPlan } from "../dataplane/plan_types.ts";
import { DEFAULT_NAP_US, DEFAULT_RATE_PPS, rxGeometry, txGeometry } from "./ring_geometry.ts";
import {
  type InterfaceFacts,
  MERGE_OWNER,
  outputUsable,
  RulePlanCache,
  type RuleSlots,
  sourceFilter,
} from "./rule_plan.ts";

export { RulePlanCache, sourceFilter } from "./rule_plan.ts";
export type { InterfaceFacts, RuleSlots } from "./rule_plan.ts";
export type {
  FilterEntry,
  OutputPlan,
  RulePlan,
  RxPlan,
  TxPlan,
  WorkerPlan,
} from "../dataplane/plan_types.ts";

/** Rules that forward (enabled unless `enabled: false`). */
export function activeRules(config: Config): Rule[] {
  return config.rules.filter((r) => r.enabled !== false);
}

/** Names of every interface the active rules use, as inputs and outputs. */
export function interfacesOf(config: Config): { inputs: string[]; outputs: string[] } {
  const inputs = new Set<string>();
  const outputs = new Set<string>();
  for (const r of activeRules(config)) {
    for (const input of ruleInputs(r)) inputs.add(input.interface);
    for (const o of r.outputs) if (o.interface !== undefined) outputs.add(o.interface);
  }
  return { inputs: [...inputs], outputs: [...outputs] };
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
  const workers = config.workers ?? 1;
  /** Spread rules (several workers write their copies) read their interface from rings of their own. */
  const spreads = (r: Rule) => r.spread === true && workers > 1;
  const rules = plannedRules(config, interfaces);
  const plan = cache.planner(interfaces);
  const rulePlans = rules.map((r) => {
    const s = slots.get(r.name);
    if (!s) throw new Error(`rule "${r.name}" has no counter slot`);
    return plan(r, s, spreads(r));
  });
  return {
    generation,
    rx: rxRings(rules, rulePlans, spreads, { interfaces, fanoutIds, ring }),
    tx: txRings(rules, interfaces, ring),
    rules: rulePlans,
    busyPollUs: ring.busy_poll_us ?? 0,
    // Naps only make sense where a packet would wake the loop: frames rings.
    napUs: (ring.rx_mode ?? "frames") === "frames" ? ring.nap_us ?? DEFAULT_NAP_US : 0,
    workerCount: workers,
    workerCpus: config.worker_cpus ?? [],
    workerPriority: config.worker_priority ?? 0,
  };
}

/**
 * The active rules that can forward now. Rules wait (are left out) while
 * their input (every leg of a merge) is absent or none of their outputs is usable. A rule with no
 * outputs at all is one whose on-demand outputs nobody asks for now
 * (src/supervisor/demand.ts; a configured rule has at least one): it is
 * planned, so its input is read and counted, ready for the first receiver,
 * and its health judged.
 */
function plannedRules(config: Config, interfaces: ReadonlyMap<string, InterfaceFacts>): Rule[] {
  return activeRules(config).filter((r) =>
    ruleInputs(r).some((input) => interfaces.has(input.interface)) &&
    (r.outputs.length === 0 || r.outputs.some((o) => outputUsable(o, interfaces)))
  );
}

/**
 * An input's expected rate: the sum of its rules' declared rates (a merge's
 * on each of its legs' interfaces), and at least DEFAULT_RATE_PPS: rules
 * that declare none share that default (each counting it in full built 256
 * MiB rings for nine rules).
 */
function inputRates(rules: readonly Rule[]): Map<string, number> {
  const rates = new Map<string, number>();
  for (const r of rules) {
    for (const input of ruleInputs(r)) {
      const name = input.interface;
      rates.set(name, (rates.get(name) ?? 0) + (r.rate_pps ?? 0));
    }
  }
  for (const [name, rate] of rates) rates.set(name, Math.max(rate, DEFAULT_RATE_PPS));
  return rates;
}

/** An address's words as text, by words array (a cached rule plan keeps its array). */
const dstKeys = new WeakMap<number[], string>();

function dstKey(dst: number[]): string {
  let k = dstKeys.get(dst);
  if (k === undefined) dstKeys.set(dst, k = dst.join());
  return k;
}

/**
 * The RX rings: one per input interface (one more for the spread rules
 * reading it, and one more, read by MERGE_OWNER alone, for the merge legs
 * on it), sized for its rules' rates, filtered to their streams.
 */
function rxRings(
  rules: readonly Rule[],
  plans: readonly RulePlan[],
  spreads: (r: Rule) => boolean,
  at: {
    interfaces: ReadonlyMap<string, InterfaceFacts>;
    fanoutIds: ReadonlyMap<string, number>;
    ring: RingOptions;
  },
): RxPlan[] {
  const rxByName = new Map<string, RxPlan>();
  /** (interface, destination, port) already in a filter: linear, not quadratic, in rules. */
  const filterKeys = new Set<string>();
  const rates = inputRates(rules);
  /** Interfaces some rule reads with `gso`: their ring carries segmentation headers. */
  const gsoInputs = new Set(
    rules.flatMap((r) => ruleInputs(r).filter((i) => i.gso === true).map((i) => i.interface)),
  );
  const ringFor = (name: string, kind: "" | "spread" | "merge"): RxPlan => {
    const ringName = `${name}|${kind}`;
    let rx = rxByName.get(ringName);
    if (!rx) {
      const facts = at.interfaces.get(name)!;
      rx = {
        ifname: name,
        ifindex: facts.ifindex,
        geometry: rxGeometry(rates.get(name), facts.mtu, at.ring, gsoInputs.has(name)),
        fanoutId: kind === "" ? at.fanoutIds.get(name) ?? 0 : 0,
        filter: [],
        passFragments: false,
        spread: kind === "spread",
        ...(kind === "merge" ? { owner: MERGE_OWNER } : {}),
      };
      rxByName.set(ringName, rx);
    }
    return rx;
  };
  const listen = (
    rx: RxPlan,
    m: { family: Family; dst: number[]; port: number },
    protocol?: number,
  ) => {
    // A filter entry's port word: the UDP port, or 0x10000 | protocol for another protocol (c/filter.c).
    const port = protocol === undefined || protocol === 17 ? m.port : 0x10000 | protocol;
    const key = `${rx.ifindex}|${rx.spread}|${rx.owner}|${dstKey(m.dst)}|${port}`;
    if (filterKeys.has(key)) return;
    filterKeys.add(key);
    rx.filter.push({ family: m.family, dst: m.dst, port });
  };
  rules.forEach((r, i) => {
    const p = plans[i];
    const inputs = ruleInputs(r);
    if (p.merge !== undefined) {
      for (const leg of p.merge.legs) listen(ringFor(inputs[leg.leg].interface, "merge"), leg, 17);
      return;
    }
    const rx = ringFor(inputs[0].interface, spreads(r) ? "spread" : "");
    listen(rx, p, p.protocol);
    if (r.allow_fragments) rx.passFragments = true;
  });
  return [...rxByName.values()];
}

/** The TX rings: one per interface an l2 output can use now. */
function txRings(
  rules: readonly Rule[],
  interfaces: ReadonlyMap<string, InterfaceFacts>,
  ring: RingOptions,
): TxPlan[] {
  const txByName = new Map<string, TxPlan>();
  for (const r of rules) {
    for (const o of r.outputs) {
      if (o.egress === "routed" || txByName.has(o.interface!)) continue;
      if (!outputUsable(o, interfaces)) continue;
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
  return [...txByName.values()];
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
  for (const rule of activeRules(config)) {
    for (const input of ruleInputs(rule)) {
      const m = joinOf(input);
      if (m === null) continue; // unicast input
      const k = `${input.interface}|${m.group}`;
      let entry = byGroup.get(k);
      if (entry === undefined) {
        entry = {
          ifname: input.interface,
          family: m.family,
          group: m.group,
          sources: new Set<string>(),
          any: false,
        };
        byGroup.set(k, entry);
      }
      if (m.source === null) entry.any = true;
      else entry.sources.add(m.source);
    }
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

/** What one input asks to join, by input object (a validated rule is never mutated). */
const joins = new WeakMap<Input, MembershipKey | null>();

/** An input's group and, when it names a single sender, that sender; null for a unicast input. */
function joinOf(input: Input): MembershipKey | null {
  let m = joins.get(input);
  if (m !== undefined) return m;
  if (input.group === undefined) m = null;
  else {
    const group = canonicalText(input.group);
    const family = familyOf(group);
    const src = input.source;
    const single = src !== undefined &&
      sourceFilter(src, family).length === (family === 4 ? 32 : 128);
    m = { family, group, source: single ? canonicalText(src!.split("/")[0]) : null };
  }
  joins.set(input, m);
  return m;
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
  for (const input of activeRules(config).flatMap(ruleInputs)) {
    if (input.address === undefined || input.port === undefined) continue; // only a UDP port is held
    const a = ip(input.address);
    const u = {
      ifname: input.interface,
      family: a.family,
      address: formatIp(a),
      port: input.port,
    };
    seen.set(`${u.ifname}|${u.address}|${u.port}`, u);
  }
  return [...seen.values()];
}
