/**
 * GET /health (200 ok / 503 with reasons, no auth when reads need the token)
 * and GET /metrics (Prometheus text format), with the process and routing
 * facts /metrics adds to the relay's own counters.
 */
import { Hono } from "hono";
import process from "node:process";
import { z } from "zod";
import { RuleName } from "../../config/schema.ts";
import { evaluateHealth } from "../../stats/health.ts";
import { renderPrometheus } from "../../stats/prometheus.ts";
import type { RateWindow } from "../../stats/rates.ts";
import type { RelayControl } from "../../supervisor/control.ts";
import type { BuildInfo } from "../../version.ts";
import { openFileCount } from "../../../ffi/process.ts";
import type { FrontStats } from "../front.ts";
import { ApiError, zodIssues } from "../errors.ts";

export interface MetricsDeps {
  relay: RelayControl;
  rates: RateWindow;
  version: BuildInfo;
  /** What the API's front door accepted and closed (absent: no front door, e.g. in tests). */
  front?: () => FrontStats;
}

const HealthQuery = z.strictObject({
  stale_ms: z.coerce.number().int().min(0).max(86_400_000).optional(),
  max_loss_pps: z.coerce.number().min(0).optional(),
  rule: RuleName.optional(),
});

/** The relay process as Prometheus' process_* metrics describe it. */
function processFacts() {
  const cpu = process.cpuUsage();
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    residentBytes: Deno.memoryUsage().rss,
    openFds: openFileCount(),
    startTimeSeconds: Math.floor(performance.timeOrigin) / 1000,
  };
}

/** The routing protocols' counters and gauges for /metrics. */
function routingFacts(relay: RelayControl) {
  const r = relay.routing?.();
  if (!r) return undefined;
  return {
    counters: r.counters,
    neighbors: r.pim.neighbors.length,
    groups: r.igmp.interfaces.reduce((n, i) => n + i.groups.length, 0),
    routes: r.pim.routes.length,
    msdpPeers: r.msdp.peers.map((p) => ({
      peer: String(p.peer),
      established: p.state === "established",
    })),
    saCache: r.msdp.sa_cache.length,
  };
}

export function metricsRoutes(deps: MetricsDeps): Hono {
  const routes = new Hono();
  routes.get("/health", (c) => {
    const q = HealthQuery.safeParse(c.req.query());
    if (!q.success) {
      throw new ApiError(400, "invalid_query", "invalid query parameters", zodIssues(q.error));
    }
    // A rule that is not configured throws UnknownRuleError: 404 rule_not_found (../errors.ts).
    const report = evaluateHealth(
      deps.relay.stats("states"),
      deps.relay.interfaces(),
      deps.relay.config(),
      deps.rates.rates(),
      { staleMs: q.data.stale_ms, maxLossPps: q.data.max_loss_pps, rule: q.data.rule },
      deps.relay.streams?.() ?? [],
      deps.relay.merges?.() ?? [],
    );
    return c.json(report, report.status === "critical" ? 503 : 200);
  });
  routes.get("/metrics", (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    const config = deps.relay.config();
    return c.body(renderPrometheus(deps.relay.stats(), deps.relay.interfaces(), {
      build: {
        version: deps.version.version,
        commit: deps.version.commit,
        deno: deps.version.deno,
        liburing: deps.version.liburing,
      },
      process: processFacts(),
      disabledRules: config.rules.filter((r) => r.enabled === false).map((r) => r.name),
      lastChange: deps.relay.lastChange?.() ?? null,
      routing: config.igmp || config.pim || config.msdp ? routingFacts(deps.relay) : undefined,
      streams: deps.relay.streams?.(),
      merges: deps.relay.merges?.(),
      front: deps.front?.(),
    }));
  });
  return routes;
}
