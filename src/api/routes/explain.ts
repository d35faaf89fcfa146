/**
 * GET /api/v1/rules/{name}/explain: where a rule's stream stops. This route
 * gathers the facts the relay keeps (config, counters, interfaces,
 * memberships, queriers heard, when counters last moved, rates) and
 * src/stats/explain.ts judges them, step by step along the path.
 */
import { Hono } from "hono";
import { errnoName } from "../../../ffi/errno.ts";
import { ruleInputs } from "../../config/schema.ts";
import { explain, type ExplainReport } from "../../stats/explain.ts";
import type { LastMoved } from "../../stats/last_moved.ts";
import type { RateWindow } from "../../stats/rates.ts";
import type { RelayControl } from "../../supervisor/control.ts";
import { ApiError } from "../errors.ts";
import { nameParam } from "./rules.ts";

export interface ExplainDeps {
  relay: RelayControl;
  rates: RateWindow;
  /** When counters last moved; absent: every "last" is unknown. */
  moved?: LastMoved;
}

/** How long the input links' kernel counters are watched for frames arriving. */
export const RX_LOOK_MS = 300;

/** Frames per second the kernel counts on each of `names` over `ms`. */
async function receiving(
  relay: RelayControl,
  names: readonly string[],
  ms: number,
): Promise<Record<string, number>> {
  const read = () =>
    new Map(
      relay.interfaces().filter((i) => names.includes(i.name)).map((i) => [i.name, i.rx_packets]),
    );
  const before = read();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const after = read();
  const s = (performance.now() - t0) / 1000;
  return Object.fromEntries(
    [...after].map(([n, v]) => [n, Math.max(0, v - (before.get(n) ?? v)) / s]),
  );
}

/** The report for rule `name`, or null when there is no such rule. */
export async function explainRule(
  deps: ExplainDeps,
  name: string,
  lookMs = RX_LOOK_MS,
): Promise<ExplainReport | null> {
  const relay = deps.relay;
  const found = relay.config().rules.find((r) => r.name === name);
  if (found === undefined) return null;
  const rx = await receiving(relay, ruleInputs(found).map((i) => i.interface), lookMs);
  // Read again after the wait: the rule may have changed or gone meanwhile.
  const rule = relay.config().rules.find((r) => r.name === name);
  if (rule === undefined) return null;
  const now = Date.now();
  const stats = relay.stats();
  const ruleStats = stats.rules.find((r) => r.name === name);
  const errno = (gauge: string) => {
    const n = Math.max(0, ...stats.workers.map((w) => w.counters[gauge] ?? 0));
    return n > 0 ? errnoName(n) : null;
  };
  const slots = relay.counterSample().slots.get(name);
  const moved = deps.moved;
  const held = relay.resources?.();
  return explain({
    now,
    uptime_s: stats.uptime_s,
    rule,
    stats: ruleStats,
    interfaces: relay.interfaces(),
    memberships: held?.memberships ?? [],
    unicast_ports: held?.unicast_ports ?? [],
    queriers: relay.queriers?.() ?? [],
    totals: stats.totals,
    rate: deps.rates.rates().rules[name],
    rule_dropped_at: slots === undefined || !moved ? null : moved.ruleDropped(slots.rule),
    input_rx_pps: rx,
    drops_at: moved?.drops ?? [],
    kernel_drops_at: moved?.kernelDropsAt ?? 0,
    outputs_at: rule.outputs.map((_, i) => {
      const slot = slots?.outputs[i];
      return slot === undefined || !moved
        ? { sent_at_ms: null, lost_at_ms: null }
        : moved.output(slot);
    }),
    errno: { routed: errno("last_routed_errno"), kick: errno("last_kick_errno") },
  });
}

export function explainRoutes(deps: ExplainDeps): Hono {
  const routes = new Hono();
  routes.get("/:name/explain", async (c) => {
    const name = nameParam(c);
    const report = await explainRule(deps, name);
    if (report === null) throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
    return c.json(report);
  });
  return routes;
}
