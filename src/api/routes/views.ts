/**
 * The read-only views under /api/v1: stats, workers, resources, interfaces,
 * streams, routing, version and the event stream; and the two operator
 * knobs beside them: the log level and (with MCR_FAULT_INJECTION=1 only)
 * the debug fault route.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { EventBus } from "../../events.ts";
import type { Logger } from "../../log.ts";
import type { RateWindow } from "../../stats/rates.ts";
import type { RelayControl } from "../../supervisor/control.ts";
import type { BuildInfo } from "../../version.ts";
import { ApiError, jsonBody, zodIssues } from "../errors.ts";
import { LogLevelBody } from "../responses.ts";

/** A fault the debug route can inject into a worker. */
export type FaultKind = "throw" | "hang" | "stall" | "fail_apply" | "slow_apply";

export interface ViewsDeps {
  relay: RelayControl;
  logger: Logger;
  version: BuildInfo;
  rates: RateWindow;
  /** Absent: GET /api/v1/events answers 404. */
  events?: EventBus;
  /** Absent: there is no POST /api/v1/debug/fault. */
  injectFault?: (worker: number, kind: FaultKind, ms?: number) => boolean;
}

const FaultBody = z.strictObject({
  worker: z.int().min(0),
  kind: z.enum(["throw", "hang", "stall", "fail_apply", "slow_apply"]),
  /** stall: how long the worker blocks inside native code. */
  ms: z.int().min(1).max(60_000).optional(),
});

/** The views to mount at /api/v1. */
export function viewRoutes(deps: ViewsDeps): Hono {
  const views = new Hono();
  const relay = deps.relay;
  views.get("/stats", (c) => c.json({ ...relay.stats(), rates: deps.rates.rates() }));
  views.get("/workers", (c) => c.json(relay.stats("workers").workers));
  views.get("/resources", (c) => {
    if (!relay.resources) throw new ApiError(404, "not_found", "no resource introspection");
    return c.json(relay.resources());
  });
  views.get("/interfaces", (c) => c.json(relay.interfaces()));
  views.get("/streams", (c) => c.json(relay.streams?.() ?? []));
  views.get("/streams/:name", (c) => {
    const name = c.req.param("name");
    const report = relay.streams?.(name)[0];
    if (!report) throw new ApiError(404, "stream_not_found", `no inspected rule named "${name}"`);
    return c.json(report);
  });
  views.get("/routing", (c) => {
    if (!relay.routing) throw new ApiError(404, "not_found", "no routing protocols in this relay");
    return c.json(relay.routing());
  });
  views.get("/events", (c) => events(deps.events, c));
  views.get(
    "/version",
    (c) => c.json({ ...deps.version, uptime_s: relay.stats("workers").uptime_s }),
  );
  knobRoutes(views, deps);
  return views;
}

/**
 * Server-Sent Events: config, interface, worker, health and (every second) stats events.
 * A client that stops reading is dropped once 256 events behind (src/events.ts).
 */
function events(bus: EventBus | undefined, c: Context): Response {
  if (!bus) throw new ApiError(404, "not_found", "no event stream in this relay");
  const sub = bus.subscribe(256);
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => sub.close());
    await stream.writeSSE({
      event: "hello",
      data: JSON.stringify({ subscribers: bus.subscribers }),
    });
    for (;;) {
      const e = await sub.next();
      if (e === null) break;
      await stream.writeSSE({ id: String(e.id), event: e.type, data: JSON.stringify(e.data) });
    }
  });
}

/** GET/PUT /log-level and, when the relay has the test hook, POST /debug/fault. */
function knobRoutes(views: Hono, deps: ViewsDeps): void {
  const log = deps.logger;
  views.get("/log-level", (c) => c.json({ level: log.level }));
  views.put("/log-level", async (c) => {
    const parsed = LogLevelBody.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw new ApiError(400, "invalid_body", "invalid log level", zodIssues(parsed.error));
    }
    log.level = parsed.data.level;
    return c.json({ level: log.level });
  });
  const inject = deps.injectFault;
  if (!inject) return;
  views.post("/debug/fault", async (c) => {
    const parsed = FaultBody.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw new ApiError(400, "invalid_body", "invalid fault", zodIssues(parsed.error));
    }
    if (!inject(parsed.data.worker, parsed.data.kind, parsed.data.ms)) {
      throw new ApiError(404, "no_worker", "no such running worker");
    }
    log.warn("fault injected", parsed.data);
    return c.json({ injected: parsed.data });
  });
}
