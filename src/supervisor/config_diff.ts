/**
 * What changed between two configurations: the rules added, removed and
 * changed (what an apply answers), and the keys that cannot change live.
 *
 * Which configuration keys take effect while the relay runs. Every key is
 * either applied live or refused (RestartRequiredError, HTTP 409
 * restart_required naming it): never acknowledged and silently ignored.
 *
 *   live:     rules, ring (new sizes apply to rings re-created from then on;
 *             TX rings are re-created at once), log.level, workers (workers
 *             start or stop; RX rings pass to new fanout groups by a ring
 *             succession, src/dataplane/succession.ts), worker_cpus and
 *             worker_priority (each worker pins its own thread and sets its
 *             policy when it applies the plan)
 *   restart:  api (listen, unix_socket, token source, body limit)
 *   (log.format has one value, json: the schema refuses any other)
 */
import type { Config } from "../config/schema.ts";
import { canonical } from "../config/rule_edit.ts";
import type { ApplyResult } from "./control.ts";
import { activeRules } from "./plan.ts";

/** Keys that only take effect at start: a change to them is refused (409), never silently ignored. */
export function restartOnlyKey(before: Config, next: Config): string | null {
  if (JSON.stringify(before.api ?? {}) !== JSON.stringify(next.api ?? {})) return "api";
  if ((before.standby_workers ?? true) !== (next.standby_workers ?? true)) return "standby_workers";
  return null;
}

/**
 * `next` with every rule equal in value to the rule of the same name in
 * `before` replaced by that rule's object: a reload or a whole-config PUT
 * that changes a few rules of 10,000 then re-plans only those (the plan,
 * slot and validation caches go by rule object). Rules already shared
 * cost nothing; only new objects are compared.
 */
export function keepUnchanged(before: Config, next: Config): Config {
  const old = new Map(before.rules.map((r) => [r.name, r]));
  let kept = 0;
  const rules = next.rules.map((r) => {
    const o = old.get(r.name);
    if (o === undefined || o === r || canonical(o) !== canonical(r)) return r;
    kept++;
    return o;
  });
  return kept === 0 ? next : { ...next, rules };
}

/** Rules added, removed, changed, unchanged between two configurations. */
export function diffRules(before: Config, next: Config): ApplyResult {
  const old = new Map(activeRules(before).map((r) => [r.name, r]));
  const result: ApplyResult = { added: [], removed: [], changed: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const r of activeRules(next)) {
    seen.add(r.name);
    const o = old.get(r.name);
    if (o === undefined) result.added.push(r.name);
    // The same object is the same rule; only a new one is compared by value.
    else if (o !== r && canonical(o) !== canonical(r)) result.changed.push(r.name);
    else result.unchanged++;
  }
  for (const name of old.keys()) if (!seen.has(name)) result.removed.push(name);
  return result;
}
