/**
 * When each rule's packets last moved, read every second straight from the
 * workers' counter slots (linear, no snapshot): what a rule's silence, its
 * last packet time and the MSDP advertisements are judged on.
 */
import type { Rule } from "../config/schema.ts";
import type { SaEntry } from "../protocols/msdp.ts";
import { RULE_SLOTS } from "../stats/registry.ts";
import type { SlotAssignment } from "./counter_slots.ts";
import { ipv4Text } from "./interfaces.ts";
import type { InterfaceFacts } from "./plan.ts";

/** The rule counter blocks: exited workers' sum and the live workers' own. */
export interface RuleBlocks {
  archived: Float64Array;
  live: readonly Float64Array[];
}

export class RuleActivity {
  /** Each rule's packet count at the last sample and when it last moved. */
  #last = new Map<string, { packets: number; changedAt: number }>();

  get lastChange(): ReadonlyMap<string, { packets: number; changedAt: number }> {
    return this.#last;
  }

  /** Notes, for every rule with slots, whether its packet counter moved since the last sample. */
  sample(assigned: ReadonlyMap<string, SlotAssignment>, blocks: RuleBlocks, now: number): void {
    for (const [name, s] of assigned) {
      const at = s.rule * RULE_SLOTS;
      let packets = blocks.archived[at];
      for (const b of blocks.live) packets += b[at];
      const last = this.#last.get(name);
      if (!last || packets !== last.packets) this.#last.set(name, { packets, changedAt: now });
    }
    if (this.#last.size > assigned.size * 2) {
      for (const name of this.#last.keys()) if (!assigned.has(name)) this.#last.delete(name);
    }
  }

  /**
   * (source, group) pairs for MSDP: every IPv4 group the rules relay to
   * that carried packets within its rule's stale_after_ms (default 5 s),
   * with the source address the relayed packets carry.
   */
  advertised(
    rules: readonly Rule[],
    facts: ReadonlyMap<string, InterfaceFacts>,
    now: number,
  ): SaEntry[] {
    const seen = new Set<string>();
    const out: SaEntry[] = [];
    for (const rule of rules) {
      const last = this.#last.get(rule.name);
      if (!last || last.packets === 0 || now - last.changedAt > (rule.stale_after_ms ?? 5000)) {
        continue;
      }
      for (const o of rule.outputs) {
        if (o.group === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(o.group)) continue;
        const f = o.interface === undefined ? undefined : facts.get(o.interface);
        const source = o.source_ip ?? (f ? ipv4Text(f.ipv4) ?? undefined : undefined);
        if (source === undefined || seen.has(`${source}|${o.group}`)) continue;
        seen.add(`${source}|${o.group}`);
        out.push({ source, group: o.group });
      }
    }
    return out;
  }
}
