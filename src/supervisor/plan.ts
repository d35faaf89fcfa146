/**
 * Config -> worker plan. Pure: it takes the configuration, what is known
 * about the interfaces and the counter slots, and returns the structured-
 * cloneable plan every worker applies. Addresses become int32 numbers here,
 * so the data path never parses text.
 */
import { type Config, DEFAULT_TTL, ipv4ToNumber, type Rule } from "../config/schema.ts";
import { DEFAULT_RATE_PPS, type RxGeometry, rxGeometry, type TxGeometry, txGeometry } from "./ring_geometry.ts";

/** What the plan needs to know about an interface. */
export interface InterfaceFacts {
  name: string;
  ifindex: number;
  mtu: number;
  /** IPv4 address as u32, 0 when it has none. */
  ipv4: number;
  mac: number[];
}

export interface RxPlan {
  ifname: string;
  ifindex: number;
  geometry: RxGeometry;
  /** PACKET_FANOUT group id (0: no fanout, single worker). */
  fanoutId: number;
  /** (group u32, port) pairs the kernel filter lets through. */
  filter: { group: number; port: number }[];
  passFragments: boolean;
}

export interface TxPlan {
  ifname: string;
  ifindex: number;
  mac: number[];
  mtu: number;
  geometry: TxGeometry;
}

export interface OutputPlan {
  ifindex: number;
  slot: number;
  group: number; // int32
  port: number;
  srcIp: number; // int32
  ttl: number;
  /** DSCP << 2, or -1 to keep the input's TOS. */
  tos: number;
}

export interface RulePlan {
  name: string;
  slot: number;
  inputIfindex: number;
  group: number; // int32
  port: number;
  srcAddr: number; // int32, already masked
  srcMask: number; // int32
  allowFragments: boolean;
  outputs: OutputPlan[];
}

export interface WorkerPlan {
  generation: number;
  rx: RxPlan[];
  tx: TxPlan[];
  rules: RulePlan[];
}

/** Counter slots of a rule and of each of its outputs. */
export interface RuleSlots {
  rule: number;
  outputs: number[];
}

/** Parses "a.b.c.d" or "a.b.c.d/len" into (address, mask) as int32 numbers. */
export function sourceFilter(source: string | undefined): { addr: number; mask: number } {
  if (source === undefined) return { addr: 0, mask: 0 };
  const [addrText, lenText] = source.split("/");
  const len = lenText === undefined ? 32 : Number(lenText);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) | 0;
  return { addr: ipv4ToNumber(addrText) & mask, mask };
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
    for (const o of r.outputs) outputs.add(o.interface);
  }
  return { inputs: [...inputs], outputs: [...outputs] };
}

/**
 * Builds the plan. `interfaces` holds the interfaces that exist now: rules
 * whose input is absent, and outputs whose interface is absent or has no
 * IPv4 address (when no source_ip is set), are left out until they appear.
 * `slots` holds every active rule's counter slots; `fanoutIds` an id per
 * input interface when more than one worker runs.
 */
export function buildPlan(
  config: Config,
  interfaces: ReadonlyMap<string, InterfaceFacts>,
  slots: ReadonlyMap<string, RuleSlots>,
  fanoutIds: ReadonlyMap<string, number>,
  generation: number,
): WorkerPlan {
  const ring = config.ring ?? {};
  // An output is usable when its interface exists and a source address is known.
  const outputUsable = (o: Rule["outputs"][number]): boolean => {
    const f = interfaces.get(o.interface);
    return f !== undefined && (o.source_ip !== undefined || f.ipv4 !== 0);
  };
  // Rules wait (are left out) while their input is absent or none of their outputs is usable.
  const rules = activeRules(config).filter((r) =>
    interfaces.has(r.input.interface) && r.outputs.some(outputUsable)
  );

  const rxByName = new Map<string, RxPlan>();
  const rateByName = new Map<string, number | undefined>();
  // An input's expected rate is the sum over its rules; a rule that declares
  // none counts as DEFAULT_RATE_PPS (so it is never sized as zero).
  for (const r of rules) {
    const name = r.input.interface;
    rateByName.set(name, (rateByName.get(name) ?? 0) + (r.rate_pps ?? DEFAULT_RATE_PPS));
  }
  for (const r of rules) {
    const name = r.input.interface;
    const facts = interfaces.get(name)!;
    let rx = rxByName.get(name);
    if (!rx) {
      rx = {
        ifname: name,
        ifindex: facts.ifindex,
        geometry: rxGeometry(rateByName.get(name), facts.mtu, ring),
        fanoutId: fanoutIds.get(name) ?? 0,
        filter: [],
        passFragments: false,
      };
      rxByName.set(name, rx);
    }
    const group = ipv4ToNumber(r.input.group);
    if (!rx.filter.some((p) => p.group === group && p.port === r.input.port)) {
      rx.filter.push({ group, port: r.input.port });
    }
    if (r.allow_fragments) rx.passFragments = true;
  }

  const txByName = new Map<string, TxPlan>();
  for (const r of rules) {
    for (const o of r.outputs) {
      if (txByName.has(o.interface) || !outputUsable(o)) continue;
      const facts = interfaces.get(o.interface)!;
      txByName.set(o.interface, {
        ifname: o.interface,
        ifindex: facts.ifindex,
        mac: facts.mac,
        mtu: facts.mtu,
        geometry: txGeometry(facts.mtu, ring),
      });
    }
  }

  const rulePlans: RulePlan[] = rules.map((r) => {
    const s = slots.get(r.name);
    if (!s) throw new Error(`rule "${r.name}" has no counter slot`);
    const src = sourceFilter(r.input.source);
    const outputs: OutputPlan[] = [];
    r.outputs.forEach((o, i) => {
      if (!outputUsable(o)) return;
      const facts = interfaces.get(o.interface)!;
      outputs.push({
        ifindex: facts.ifindex,
        slot: s.outputs[i],
        group: ipv4ToNumber(o.group) | 0,
        port: o.port,
        srcIp: (o.source_ip !== undefined ? ipv4ToNumber(o.source_ip) : facts.ipv4) | 0,
        ttl: o.ttl ?? DEFAULT_TTL,
        tos: o.dscp === undefined ? -1 : o.dscp << 2,
      });
    });
    return {
      name: r.name,
      slot: s.rule,
      inputIfindex: interfaces.get(r.input.interface)!.ifindex,
      group: ipv4ToNumber(r.input.group) | 0,
      port: r.input.port,
      srcAddr: src.addr,
      srcMask: src.mask,
      allowFragments: r.allow_fragments ?? false,
      outputs,
    };
  });

  return { generation, rx: [...rxByName.values()], tx: [...txByName.values()], rules: rulePlans };
}

/** A membership: group and source as u32 (source 0: any source, IGMPv2/v3 EXCLUDE {}). */
export interface MembershipKey {
  group: number;
  source: number;
}

/**
 * The IGMP memberships each input interface needs. Where every rule on a
 * (interface, group) names a single sender (a /32 source), the relay joins
 * source-specifically (IGMPv3 INCLUDE {S...}), so upstream sends only those
 * senders; if any rule on it takes any sender or a prefix, one any-source
 * join covers them all (the rules' source filters still apply per packet).
 */
export function wantedMemberships(config: Config): Map<string, MembershipKey[]> {
  const byGroup = new Map<string, { ifname: string; group: number; sources: Set<number>; any: boolean }>();
  for (const r of activeRules(config)) {
    const group = ipv4ToNumber(r.input.group);
    const k = `${r.input.interface}|${group}`;
    const entry = byGroup.get(k) ?? { ifname: r.input.interface, group, sources: new Set<number>(), any: false };
    const src = r.input.source;
    if (src === undefined || (src.includes("/") && !src.endsWith("/32"))) entry.any = true;
    else entry.sources.add(ipv4ToNumber(src.split("/")[0]));
    byGroup.set(k, entry);
  }
  const out = new Map<string, MembershipKey[]>();
  for (const e of byGroup.values()) {
    const list = out.get(e.ifname) ?? [];
    if (e.any) list.push({ group: e.group, source: 0 });
    else for (const s of e.sources) list.push({ group: e.group, source: s });
    out.set(e.ifname, list);
  }
  return out;
}
