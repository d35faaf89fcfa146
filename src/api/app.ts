/**
 * The HTTP JSON API: a Hono app built from its dependencies, so tests mount
 * it with app.request() and no network. It never touches packets: it reads
 * snapshots and asks the relay to apply whole configurations.
 *
 *   GET  /health                     200 ok / 503 with reasons (no auth)
 *   GET  /metrics                    Prometheus text format
 *   GET  /api/v1/rules               list         POST /api/v1/rules          add
 *   GET  /api/v1/rules/:name         one          PUT  /api/v1/rules/:name    replace
 *                                                DELETE /api/v1/rules/:name  remove
 *   GET  /api/v1/config              whole config PUT  /api/v1/config         replace whole
 *   GET  /api/v1/stats | workers | interfaces | version | openapi.json
 *   GET  /api/v1/log-level           PUT /api/v1/log-level {"level": "debug"}
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { ConfigError, formatPath } from "../config/errors.ts";
import { validateConfig, validateRuleChange } from "../config/load.ts";
import { type Config, RuleName, RuleSchema } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { evaluateHealth, UnknownRuleError } from "../stats/health.ts";
import { renderPrometheus } from "../stats/prometheus.ts";
import { openFileCount } from "../../ffi/process.ts";
import process from "node:process";

import type { RateWindow } from "../stats/rates.ts";
import type { EventBus } from "../events.ts";
import type { RelayControl } from "../supervisor/control.ts";
import type { BuildInfo } from "../version.ts";
import { bearerGuard, hostGuard, type HostRules } from "./auth.ts";
import { openApiDocument } from "./openapi.ts";
import { LogLevelBody } from "./responses.ts";
import { renderDocsPage } from "./docs_page.ts";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "../ui/page.ts";

/** A route path ("/api/v1/rules/:name") as a regular expression over request paths. */
function routePattern(path: string): RegExp {
  const body = path.replace(/\/$/, "").split("/").map((p) =>
    p.startsWith(":") ? "[^/]+" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${body || ""}/?$`);
}

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

export interface ApiDeps {
  relay: RelayControl;
  logger: Logger;
  version: BuildInfo;
  rates: RateWindow;
  /** Bearer token; when set, every mutation needs it. */
  token: string | null;
  /** Also require the token for reads (non-loopback listen); /health stays open. */
  tokenForReads: boolean;
  /** Which Host / Origin values are answered (DNS rebinding); absent: any Host, same-origin mutations. */
  hosts?: HostRules;
  /** Writes an applied config back to its file (atomically); null: don't. */
  persist: ((config: Config) => Promise<void>) | null;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  /** Test hook, present only with MCR_FAULT_INJECTION=1: POST /api/v1/debug/fault. */
  injectFault?: (
    worker: number,
    kind: "throw" | "hang" | "stall" | "fail_apply",
    ms?: number,
  ) => boolean;
  /** The event stream's source (GET /api/v1/events); absent: the route answers 404. */
  events?: EventBus;
}

/** An API error with its HTTP status and machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 415 | 422 | 503,
    readonly code: string,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

const FaultBody = z.strictObject({
  worker: z.int().min(0),
  kind: z.enum(["throw", "hang", "stall", "fail_apply"]),
  /** stall: how long the worker blocks inside native code. */
  ms: z.int().min(1).max(60_000).optional(),
});
const HealthQuery = z.strictObject({
  stale_ms: z.coerce.number().int().min(0).max(86_400_000).optional(),
  max_loss_pps: z.coerce.number().min(0).optional(),
  rule: RuleName.optional(),
});

/** Reads a JSON body: 415 for another content type, 400 for malformed JSON. */
async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "request body must be JSON (Content-Type: application/json)",
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(
      400,
      "malformed_json",
      `request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

function zodIssues(
  error: z.ZodError,
  prefix: (string | number)[] = [],
): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: formatPath([
      ...prefix,
      ...i.path.filter((p): p is string | number => typeof p !== "symbol"),
    ]),
    message: i.message,
  }));
}

export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  const log = deps.logger;
  /**
   * Validates the whole next config, applies it and persists it, in the
   * relay's one mutation queue (shared with SIGHUP and interface events):
   * acknowledged only once it is in force and persisted.
   */
  async function mutate(
    build: (current: Config) => Config,
    rulesOnly = false,
  ): Promise<Record<string, unknown>> {
    const result = await deps.relay.change((current) => {
      const next = build(current);
      try {
        // Rule routes parsed their rule already; only cross-rule checks remain.
        return rulesOnly
          ? validateRuleChange(next, "request body")
          : validateConfig(next, "request body");
      } catch (err) {
        if (err instanceof ConfigError) {
          throw new ApiError(
            422,
            "invalid_config",
            "the resulting configuration is invalid; nothing changed",
            err.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
          );
        }
        throw err;
      }
    }, deps.persist ?? undefined);
    log.info("configuration applied", { ...result });
    return { ...result };
  }

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      return c.json(
        { error: { code: err.code, message: err.message, issues: err.issues } },
        err.status,
      );
    }
    if (err instanceof ConfigError) {
      return c.json({
        error: {
          code: "invalid_config",
          message: err.message,
          issues: err.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
        },
      }, 422);
    }
    const e = err as Error & { code?: string; op?: string; key?: string; resource?: string };
    if (e.name === "RestartRequiredError") {
      return c.json({ error: { code: "restart_required", message: e.message, key: e.key } }, 409);
    }
    if (e.name === "ConfigConflictError") {
      return c.json({ error: { code: "config_file_changed", message: e.message } }, 409);
    }
    if (e.name === "PersistFailedError") {
      return c.json({ error: { code: "persist_failed", message: e.message } }, 503);
    }
    if (e.name === "ApplyFailedError") {
      return c.json({ error: { code: "apply_failed", message: e.message } }, 503);
    }
    if (e.name === "ResourceLimitError" || err instanceof RangeError) {
      return c.json(
        { error: { code: "resource_limit", message: e.message, resource: e.resource } },
        409,
      );
    }
    if (e.name === "NativeError") {
      return c.json({
        error: { code: "native_error", message: e.message, op: e.op, errno: e.code },
      }, 503);
    }
    log.error("API request failed", { path: c.req.path, error: e.message });
    return c.json(
      { error: { code: "internal", message: "internal error (see the relay's log)" } },
      500,
    );
  });
  app.notFound((c) => {
    // A path served with other methods: 405 with what it allows.
    const allow = [
      ...new Set(
        app.routes.filter((r) => r.method !== "ALL" && routePattern(r.path).test(c.req.path)).map((
          r,
        ) => r.method),
      ),
    ];
    if (allow.length > 0) {
      c.header("Allow", allow.sort().join(", "));
      return c.json({
        error: {
          code: "method_not_allowed",
          message: `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(", ")}`,
        },
      }, 405);
    }
    return c.json({
      error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` },
    }, 404);
  });

  app.use("*", hostGuard(deps.hosts ?? { loopback: false, allowed: [] }));
  app.use(
    "*",
    bodyLimit({
      maxSize: deps.bodyLimit ?? 1024 * 1024,
      onError: () => {
        throw new ApiError(
          413,
          "body_too_large",
          `request body larger than ${deps.bodyLimit ?? 1024 * 1024} bytes`,
        );
      },
    }),
  );
  app.use("*", bearerGuard(deps.token, deps.tokenForReads));

  // ---- the status page (src/ui/page.ts): same-origin, no external resources ----
  const page = (body: string, type: string) => (c: Context) => {
    c.header("Content-Type", type);
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
    );
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Cache-Control", "no-cache");
    return c.body(body);
  };
  app.get("/", page(PAGE_HTML, "text/html; charset=utf-8"));
  app.get("/ui/app.js", page(PAGE_JS, "text/javascript; charset=utf-8"));
  app.get("/ui/style.css", page(PAGE_CSS, "text/css; charset=utf-8"));

  // ---- health and metrics -------------------------------------------------
  app.get("/health", (c) => {
    const q = HealthQuery.safeParse(c.req.query());
    if (!q.success) {
      throw new ApiError(400, "invalid_query", "invalid query parameters", zodIssues(q.error));
    }
    let report;
    try {
      report = evaluateHealth(
        deps.relay.stats(),
        deps.relay.interfaces(),
        deps.relay.config(),
        deps.rates.rates(),
        { staleMs: q.data.stale_ms, maxLossPps: q.data.max_loss_pps, rule: q.data.rule },
        deps.relay.streams?.() ?? [],
      );
    } catch (err) {
      if (err instanceof UnknownRuleError) throw new ApiError(404, "rule_not_found", err.message);
      throw err;
    }
    return c.json(report, report.status === "critical" ? 503 : 200);
  });
  app.get("/metrics", (c) => {
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
    }));
  });

  // ---- rules ------------------------------------------------------------------
  const rules = new Hono();
  const nameParam = (c: Context): string => {
    const p = RuleName.safeParse(c.req.param("name"));
    if (!p.success) {
      throw new ApiError(400, "invalid_name", "invalid rule name", zodIssues(p.error, ["name"]));
    }
    return p.data;
  };
  const parseRule = async (c: Context) => {
    const body = await jsonBody(c);
    const parsed = RuleSchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(
        400,
        "invalid_rule",
        "invalid rule; nothing changed",
        zodIssues(parsed.error),
      );
    }
    return parsed.data;
  };
  rules.get("/", (c) => c.json(deps.relay.config().rules));
  rules.get("/:name", (c) => {
    const name = nameParam(c);
    const rule = deps.relay.config().rules.find((r) => r.name === name);
    if (!rule) throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
    return c.json(rule);
  });
  rules.post("/", async (c) => {
    const rule = await parseRule(c);
    const result = await mutate((cfg) => {
      if (cfg.rules.some((r) => r.name === rule.name)) {
        throw new ApiError(
          409,
          "rule_exists",
          `a rule named "${rule.name}" already exists (PUT to replace it)`,
        );
      }
      return { ...cfg, rules: [...cfg.rules, rule] };
    }, true);
    return c.json(result, 201);
  });
  rules.put("/:name", async (c) => {
    const name = nameParam(c);
    const rule = await parseRule(c);
    if (rule.name !== name) {
      throw new ApiError(
        422,
        "name_mismatch",
        `body names rule "${rule.name}" but the URL names "${name}"`,
        [{ path: "name", message: `must be "${name}"` }],
      );
    }
    const result = await mutate((cfg) => {
      const i = cfg.rules.findIndex((r) => r.name === name);
      if (i < 0) {
        throw new ApiError(404, "rule_not_found", `no rule named "${name}" (POST to add it)`);
      }
      const list = cfg.rules.slice();
      list[i] = rule;
      return { ...cfg, rules: list };
    }, true);
    return c.json(result);
  });
  rules.delete("/:name", async (c) => {
    const name = nameParam(c);
    const result = await mutate((cfg) => {
      if (!cfg.rules.some((r) => r.name === name)) {
        throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
      }
      return { ...cfg, rules: cfg.rules.filter((r) => r.name !== name) };
    }, true);
    return c.json(result);
  });
  app.route("/api/v1/rules", rules);

  // ---- whole config ---------------------------------------------------------------
  const config = new Hono();
  config.get("/", (c) => c.json(deps.relay.config()));
  config.put("/", async (c) => {
    const body = await jsonBody(c);
    try {
      validateConfig(body, "request body");
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new ApiError(
          400,
          "invalid_config",
          "invalid configuration; nothing changed",
          err.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
        );
      }
      throw err;
    }
    return c.json(await mutate(() => body as Config));
  });
  app.route("/api/v1/config", config);

  // ---- read-only views ----------------------------------------------------------------
  app.get("/api/v1/stats", (c) => c.json({ ...deps.relay.stats(), rates: deps.rates.rates() }));
  app.get("/api/v1/workers", (c) => c.json(deps.relay.stats().workers));
  app.get("/api/v1/resources", (c) => {
    if (!deps.relay.resources) throw new ApiError(404, "not_found", "no resource introspection");
    return c.json(deps.relay.resources());
  });
  app.get("/api/v1/interfaces", (c) => c.json(deps.relay.interfaces()));
  app.get("/api/v1/streams", (c) => c.json(deps.relay.streams?.() ?? []));
  app.get("/api/v1/streams/:name", (c) => {
    const name = c.req.param("name");
    const report = deps.relay.streams?.(name)[0];
    if (!report) throw new ApiError(404, "stream_not_found", `no inspected rule named "${name}"`);
    return c.json(report);
  });
  app.get("/api/v1/routing", (c) => {
    if (!deps.relay.routing) {
      throw new ApiError(404, "not_found", "no routing protocols in this relay");
    }
    return c.json(deps.relay.routing());
  });
  // Server-Sent Events: config, interface, worker, health and (every second) stats events.
  // A client that stops reading is dropped once 256 events behind (src/events.ts).
  app.get("/api/v1/events", (c) => {
    const bus = deps.events;
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
  });
  app.get(
    "/api/v1/version",
    (c) => c.json({ ...deps.version, uptime_s: deps.relay.stats().uptime_s }),
  );
  app.get("/api/v1/openapi.json", (c) => c.json(openApiDocument(deps.version.version)));
  app.get(
    "/api/v1/docs",
    page(renderDocsPage(openApiDocument(deps.version.version)), "text/html; charset=utf-8"),
  );
  app.get("/api/v1/log-level", (c) => c.json({ level: log.level }));
  app.put("/api/v1/log-level", async (c) => {
    const parsed = LogLevelBody.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw new ApiError(400, "invalid_body", "invalid log level", zodIssues(parsed.error));
    }
    log.level = parsed.data.level;
    return c.json({ level: log.level });
  });
  if (deps.injectFault) {
    const inject = deps.injectFault;
    app.post("/api/v1/debug/fault", async (c) => {
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
  return app;
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
