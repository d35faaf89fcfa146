/**
 * The configuration the data plane is given: the one in force, composed
 * with what routers and receivers asked for. Pure.
 *
 * - An `on_demand` output is kept only while its group is present on its
 *   link (IGMP) or joined there by a PIM neighbour.
 * - A PIM Join for a group a rule relays, on a link where that rule has no
 *   output for it, adds a learned output there: a copy of the rule's first
 *   output to that group (same port, TTL, DSCP, source address), on the
 *   joined link, l2. A (S,G) Join matches only outputs whose source_ip is S;
 *   a (*,G) Join any output but those whose source_ip an (S,G,rpt) Prune
 *   took off it.
 *
 * Learned outputs are never written to the configuration file: they exist
 * in the applied plan, the stats (marked `learned: "pim"`) and the API.
 * They are bounded (pim.max_learned_routes, and the counter slots left by
 * the configured outputs), and never added where they would feed a rule's
 * input back (a loop a static output is refused for).
 */
import {
  type Config,
  inputDestination,
  type Output,
  type Rule,
  ruleInputs,
} from "../config/schema.ts";
import { MAX_OUTPUTS } from "../config/limits.ts";
import { canonicalText } from "../net/address.ts";

export interface Demand {
  /** Groups present per interface (IGMP). */
  igmp: ReadonlyMap<string, ReadonlySet<string>>;
  /** PIM learned routes: source "*" for (*,G), with the sources (S,G,rpt) Prunes took off it. */
  pim: readonly { interface: string; source: string; group: string; except?: readonly string[] }[];
}

export const NO_DEMAND: Demand = { igmp: new Map(), pim: [] };

/** An output as the data plane gets it: learned ones are marked. */
export type PlannedOutput = Output & { learned?: "pim" };

export interface LearnedOutput {
  rule: string;
  interface: string;
  group: string;
  port?: number;
  /** The PIM route it serves ("*" or the source). */
  source: string;
}

export interface Composed {
  config: Config;
  learned: LearnedOutput[];
  /** PIM routes for which no rule relays the group (joined for nothing mcr has). */
  unoffered: number;
  /** Learned outputs not added: over the bound, or they would feed an input back. */
  refused: number;
}

const memo = new WeakMap<Rule, { key: string; rule: Rule }>();

/** Whether a route asks for what output `o` sends: its (S,G) by source_ip, or (*,G) unless S was pruned off it. */
function routeWants(route: { source: string; except?: readonly string[] }, o: Output): boolean {
  if (route.source !== "*") return o.source_ip === route.source;
  return o.source_ip === undefined || !(route.except ?? []).includes(o.source_ip);
}

function wanted(o: Output, demand: Demand, routes: Map<string, Demand["pim"][number][]>): boolean {
  if (!o.on_demand) return true;
  if (o.interface === undefined || o.group === undefined) return false;
  const group = canonicalText(o.group);
  if (demand.igmp.get(o.interface)?.has(group)) return true;
  return (routes.get(`${o.interface}|${group}`) ?? []).some((r) => routeWants(r, o));
}

export function withDemand(config: Config, demand: Demand): Composed {
  if (
    demand.igmp.size === 0 && demand.pim.length === 0 &&
    !config.rules.some((r) => r.outputs.some((o) => o.on_demand))
  ) {
    return { config, learned: [], unoffered: 0, refused: 0 };
  }
  const configured = config.rules.reduce((n, r) => n + r.outputs.length, 0);
  let budget = Math.min(config.pim?.max_learned_routes ?? 256, MAX_OUTPUTS - configured);
  let refused = 0;
  const inputs = new Set(
    config.rules.flatMap(ruleInputs).filter((i) => i.port !== undefined).map((i) =>
      `${i.interface}|${canonicalText(inputDestination(i))}|${i.port}`
    ),
  );
  const routes = new Map<string, Demand["pim"][number][]>();
  for (const r of demand.pim) {
    const key = `${r.interface}|${canonicalText(r.group)}`;
    if (!routes.has(key)) routes.set(key, []);
    routes.get(key)!.push(r);
  }
  const learned: LearnedOutput[] = [];
  const served = new Set<number>();
  const rules = config.rules.map((rule) => {
    if (rule.enabled === false) return rule;
    const outputs: PlannedOutput[] = rule.outputs.filter((o) => wanted(o, demand, routes));
    demand.pim.forEach((route, i) => {
      const group = canonicalText(route.group);
      const offer = rule.outputs.find((o) =>
        o.group !== undefined && canonicalText(o.group) === group && routeWants(route, o)
      );
      if (!offer) return;
      served.add(i);
      const there = outputs.some((o) =>
        o.interface === route.interface && o.group !== undefined &&
        canonicalText(o.group) === group && o.port === offer.port
      );
      if (there) return;
      if (budget <= 0 || inputs.has(`${route.interface}|${group}|${offer.port}`)) {
        refused++;
        return;
      }
      budget--;
      outputs.push({
        interface: route.interface,
        group: offer.group,
        ...(offer.port !== undefined ? { port: offer.port } : {}),
        ...(offer.ttl !== undefined ? { ttl: offer.ttl } : {}),
        ...(offer.dscp !== undefined ? { dscp: offer.dscp } : {}),
        ...(offer.source_ip !== undefined ? { source_ip: offer.source_ip } : {}),
        learned: "pim",
      });
      learned.push({
        rule: rule.name,
        interface: route.interface,
        group: offer.group!,
        port: offer.port,
        source: route.source,
      });
    });
    if (outputs.length === rule.outputs.length && outputs.every((o, j) => o === rule.outputs[j])) {
      return rule;
    }
    // The same composed rule object for the same composition: the plan cache reuses its plan.
    const key = JSON.stringify(outputs);
    const hit = memo.get(rule);
    if (hit && hit.key === key) return hit.rule;
    const composed = { ...rule, outputs };
    memo.set(rule, { key, rule: composed });
    return composed;
  });
  return {
    config: { ...config, rules },
    learned,
    unoffered: demand.pim.length - served.size,
    refused,
  };
}
