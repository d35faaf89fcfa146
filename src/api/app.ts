/**
 * The HTTP JSON API: a Hono app built from its dependencies, so tests mount
 * it with app.request() and no network. It never touches packets: it reads
 * snapshots and asks the relay to apply whole configurations. This file
 * holds the middleware (Host/Origin, body limit, bearer token), the error
 * and not-found answers, and mounts one small Hono per resource:
 *
 *   GET  /  /ui/app.js  /ui/style.css      the status page                    routes/pages.ts
 *   GET  /runbooks                         the alerts' runbooks (no token)     routes/pages.ts
 *   GET  /login  POST /login  POST /logout the status page's browser sessions  routes/login.ts
 *   GET  /api/v1/openapi.json  /api/v1/docs the API described                    routes/pages.ts
 *   GET  /health                           200 ok / 503 with reasons          routes/metrics.ts
 *   GET  /metrics                          Prometheus text format             routes/metrics.ts
 *   GET  /api/v1/rules                     list; POST adds                    routes/rules.ts
 *   GET  /api/v1/rules/:name               one; PUT replaces, DELETE removes  routes/rules.ts
 *   GET  /api/v1/rules/:name/explain       where its stream stops, step by step routes/explain.ts
 *   POST /api/v1/rules:batch               many added/removed as one change   routes/rules_batch.ts
 *   GET  /api/v1/config                    whole config; PUT replaces it      routes/config.ts
 *   POST /api/v1/config/reload             the file read again and applied    routes/config.ts
 *   GET  /api/v1/stats | workers | resources | interfaces | routing | version  routes/views.ts
 *   GET  /api/v1/streams  /api/v1/streams/:name stream health               routes/views.ts
 *   GET  /api/v1/merges  /api/v1/merges/:name merged pairs and their legs     routes/merges.ts
 *   PUT  /api/v1/merges/:name/lock         failover: {"leg": n | null}        routes/merges.ts
 *   GET  /api/v1/events                    Server-Sent Events                 routes/views.ts
 *   GET  /api/v1/log-level                 PUT {"level": "debug"} sets it     routes/views.ts
 *   POST /api/v1/debug/fault               only with MCR_FAULT_INJECTION=1    routes/views.ts
 *
 * Auth (./auth.ts): with a token every mutation needs it; with tokenForReads
 * every route but /health, /runbooks and /login does, and a browser may read
 * with a session cookie from /login instead (./sessions.ts). Errors answer
 * RFC 9457 problem details (application/problem+json) with the status and
 * code ./errors.ts gives them.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Persist } from "../config/persist.ts";
import type { EventBus } from "../events.ts";
import type { Logger } from "../log.ts";
import type { RateWindow } from "../stats/rates.ts";
import type { LastMoved } from "../stats/last_moved.ts";
import type { ApplyResult, RelayControl } from "../supervisor/control.ts";
import type { BuildInfo } from "../version.ts";
import { bearerGuard, hostGuard, type HostRules } from "./auth.ts";
import { Sessions } from "./sessions.ts";
import { loginRoutes } from "./routes/login.ts";
import { ApiError, errorProblem, problem, problemResponse } from "./errors.ts";
import { configRoutes } from "./routes/config.ts";
import { explainRoutes } from "./routes/explain.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { pageRoutes } from "./routes/pages.ts";
import { rulesRoutes } from "./routes/rules.ts";
import { BATCH_BODY_LIMIT, BATCH_PATH, batchRoutes } from "./routes/rules_batch.ts";
import { mergeRoutes } from "./routes/merges.ts";
import { type FaultKind, viewRoutes } from "./routes/views.ts";

export { ApiError } from "./errors.ts";
import type { FrontStats } from "./front.ts";

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
  persist: Persist | null;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  /** Test hook, present only with MCR_FAULT_INJECTION=1: POST /api/v1/debug/fault. */
  injectFault?: (worker: number, kind: FaultKind, ms?: number) => boolean;
  /** The event stream's source (GET /api/v1/events); absent: the route answers 404. */
  events?: EventBus;
  /** Reloads the config file (POST /api/v1/config/reload); absent: 404. */
  reload?: () => Promise<ApplyResult>;
  /** When counters last moved (GET /api/v1/rules/{name}/explain); absent: unknown. */
  moved?: LastMoved;
  /** What the API's front door accepted and closed (/metrics); absent: not shown. */
  front?: () => FrontStats;
}

/** A route path ("/api/v1/rules/:name") as a regular expression over request paths. */
function routePattern(path: string): RegExp {
  const body = path.replace(/\/$/, "").split("/").map((p) => {
    // ":name{pattern}" matches its pattern (POST /api/v1/rules:batch), ":name" any segment.
    const own = p.match(/^:\w+\{(.+)\}$/);
    if (own) return `(?:${own[1]})`;
    return p.startsWith(":") ? "[^/]+" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }).join("/");
  return new RegExp(`^${body || ""}/?$`);
}

export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  const log = deps.logger;

  app.onError((err, c) => {
    const answer = errorProblem(err);
    if (answer) return problemResponse(c, answer);
    log.error("API request failed", { path: c.req.path, error: err.message });
    return problemResponse(c, problem(500, "internal", "internal error (see the relay's log)"));
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
      return problemResponse(
        c,
        problem(
          405,
          "method_not_allowed",
          `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(", ")}`,
          undefined,
          { allow },
        ),
      );
    }
    return problemResponse(
      c,
      problem(404, "not_found", `no route ${c.req.method} ${c.req.path}`),
    );
  });

  app.use("*", hostGuard(deps.hosts ?? { loopback: false, allowed: [] }));
  const maxBody = deps.bodyLimit ?? 1024 * 1024;
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, "body_too_large", `request body larger than ${maxSize} bytes`);
      },
    });
  const anyBody = limit(maxBody);
  // A batch of rules for provisioning may be larger than any other request (still bounded).
  const batchBody = limit(Math.max(maxBody, BATCH_BODY_LIMIT));
  app.use("*", (c, next) => c.req.path === BATCH_PATH ? batchBody(c, next) : anyBody(c, next));
  // Browser sessions where a browser cannot send the token: a token and a non-loopback listener.
  const sessions = deps.token !== null && deps.tokenForReads ? new Sessions(deps.token) : null;
  app.use("*", bearerGuard(deps.token, deps.tokenForReads, sessions));
  app.route("/", loginRoutes(sessions));

  app.route("/", pageRoutes(deps.version.version));
  app.route("/", metricsRoutes(deps));
  app.route("/", batchRoutes(deps));
  app.route("/api/v1/rules", rulesRoutes(deps));
  app.route("/api/v1/rules", explainRoutes(deps));
  app.route("/api/v1/config", configRoutes(deps));
  app.route("/api/v1/merges", mergeRoutes(deps));
  app.route("/api/v1", viewRoutes(deps));
  return app;
}
