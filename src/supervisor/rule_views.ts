/**
 * The inspected and the merged rules in force with their slots, made once per
 * (configuration, slot assignment) and not once a second: an idle relay of
 * 10,000 rules does not walk them every second to find the few inspected.
 */
import type { Config } from "../config/schema.ts";
import { activeRules } from "./plan.ts";
import type { InspectedRule } from "./stream_watch.ts";
import { type MergedRule, mergedRules } from "./merge_watch.ts";
import type { SlotAssignment } from "./counter_slots.ts";

export class RuleViews {
  #of: {
    effective: Config;
    assigned: ReadonlyMap<string, SlotAssignment>;
    inspected: InspectedRule[];
    merged: MergedRule[];
  } | null = null;

  of(
    effective: Config,
    assigned: ReadonlyMap<string, SlotAssignment>,
  ): { inspected: InspectedRule[]; merged: MergedRule[] } {
    const v = this.#of;
    if (v?.effective === effective && v.assigned === assigned) return v;
    const rules = activeRules(effective);
    const inspected: InspectedRule[] = [];
    for (const rule of rules) {
      const slot = assigned.get(rule.name)?.stream;
      if (rule.inspect !== undefined && slot !== undefined) inspected.push({ rule, slot });
    }
    this.#of = { effective, assigned, inspected, merged: mergedRules(rules, assigned) };
    return this.#of;
  }
}
