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

/** How long the links' kernel counters are watched for frames arriving. */
export const RX_LOOK_MS = 300;
/** A look this recent (ms since it ended) answers the next report at once. */
export const LOOK_FRESH_MS = 1000;

/**
 * Frames per second the kernel counts on every link, over a look of
 * RX_LOOK_MS: one look at a time, shared by every report that asks while it
 * runs, and reused for LOOK_FRESH_MS after it ends. So a flood of explain
 * requests is answered from one look a second instead of each holding its
 * connection for a look of its own.
 */
export class LinkLook {
  #last: { endedAt: number; rates: Record<string, number> } | null = null;
  #running: Promise<Record<string, number>> | null = null;

  constructor(readonly relay: RelayControl, readonly lookMs = RX_LOOK_MS) {}

  rates(): Promise<Record<string, number>> {
    const last = this.#last;
    if (last !== null && performance.now() - last.endedAt < LOOK_FRESH_MS) {
      return Promise.resolve(last.rates);
    }
    this.#running ??= this.#look().finally(() => this.#running = null);
    return this.#running;
  }

  async #look(): Promise<Record<string, number>> {
    const read = () => new Map(this.relay.interfaces().map((i) => [i.name, i.rx_packets]));
    const before = read();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, this.lookMs));
    const after = read();
    const endedAt = performance.now();
    const s = (endedAt - t0) / 1000;
    const rates = Object.fromEntries(
      [...after].map(([n, v]) => [n, Math.max(0, v - (before.get(n) ?? v)) / s]),
    );
    this.#last = { endedAt, rates };
    return rates;
  }
}

/** The report for rule `name`, or null when there is no such rule. */
export async function explainRule(
  deps: ExplainDeps,
  look: LinkLook,
  name: string,
): Promise<ExplainReport | null> {
  const relay = deps.relay;
  const found = relay.config().rules.find((r) => r.name === name);
  if (found === undefined) return null;
  const links = await look.rates();
  const rx = Object.fromEntries(
    ruleInputs(found).map((i) => [i.interface, links[i.interface] ?? 0]),
  );
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
  const look = new LinkLook(deps.relay);
  routes.get("/:name/explain", async (c) => {
    const name = nameParam(c);
    const report = await explainRule(deps, look, name);
    if (report === null) throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
    return c.json(report);
  });
  return routes;
}
