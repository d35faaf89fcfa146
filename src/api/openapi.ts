/**
 * The OpenAPI 3.1 document of the API. Request and response schemas are
 * generated from the zod schemas (z.toJSONSchema) the API validates with
 * and its responses are tested against (src/api/responses.ts).
 */
import { z } from "zod";
import { RESPONSE_SCHEMAS } from "./responses.ts";

function schema(s: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(s, {
    io: "input",
    unrepresentable: "any",
    target: "draft-2020-12",
  }) as Record<string, unknown>;
}

type SchemaName = keyof typeof RESPONSE_SCHEMAS;
const json = (ref: SchemaName) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
/** An error answer: RFC 9457 problem details. */
const problemBody = {
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
};
const text = (type: string) => ({ content: { [type]: { schema: { type: "string" } } } });
const errors = {
  "400": { description: "malformed or invalid body (issues name each field)", ...problemBody },
  "401": { description: "missing or wrong bearer token", ...problemBody },
  "413": { description: "body too large", ...problemBody },
  "415": { description: "not JSON", ...problemBody },
  "422": {
    description: "the resulting configuration is invalid; nothing changed",
    ...problemBody,
  },
  "409": {
    description:
      "conflict: restart_required (the key cannot change live), config_file_changed, resource_limit, or the rule exists",
    ...problemBody,
  },
  "503": {
    description:
      "not in force: apply_failed (rolled back), persist_failed (not written, rolled back), or queue_timeout (its turn came after the client's Prefer: wait, default 10 s; never applied; Retry-After)",
    ...problemBody,
  },
};
const notFound = { "404": { description: "no such rule", ...problemBody } };
/** An ETag on a read that a later change can name in If-Match. */
const withEtag = (r: Record<string, unknown>) => ({
  ...r,
  headers: {
    ETag: { description: "the entity tag to send in If-Match", schema: { type: "string" } },
  },
});
const ifMatchParam = {
  name: "If-Match",
  in: "header",
  required: false,
  description:
    "the ETag of the last read: the change is refused (412) if what it read changed since; * for any",
  schema: { type: "string" },
};
const preconditionFailed = {
  "412": {
    description: "precondition_failed: changed since the read named in If-Match; read again",
    ...problemBody,
  },
};
const nameParam = [{ name: "name", in: "path", required: true, schema: { type: "string" } }];

/** "get /api/v1/rules/{name}" -> "getApiV1RulesByName": one stable, unique id per operation. */
function operationId(method: string, path: string): string {
  const words = path.split("/").filter((p) => p !== "").map((p) =>
    p.startsWith("{") ? `by-${p.slice(1, -1)}` : p
  );
  const camel = words.join("-").split(/[^A-Za-z0-9]+/).filter((w) => w !== "")
    .map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  return method + (camel || "Root");
}

/**
 * The document's path of a route the app serves: ":name" becomes "{name}"; a
 * parameter with its own literal pattern (":resource{rules:batch}") is that literal.
 */
export function documentedPath(routePath: string): string {
  return routePath.split("/").map((seg) => {
    const own = seg.match(/^:\w+\{(.+)\}$/);
    if (own) return own[1];
    return seg.startsWith(":") ? `{${seg.slice(1)}}` : seg;
  }).join("/").replace(/(.)\/$/, "$1");
}

/** Path items by path (their order is the document's). */
type Paths = Record<string, Record<string, unknown>>;

const MUTATING = new Set(["put", "post", "delete", "patch"]);

/**
 * Every operation gets its operationId (clients generated from the document
 * name methods after them), the tag of its group, and the answers any
 * request can get: 401 where the token is needed, 403 for a change from
 * another origin, 421 for a Host the relay does not answer to.
 */
function withConventions(groups: [string, Paths][]): Paths {
  const paths: Paths = {};
  for (const [tag, group] of groups) {
    for (const [path, item] of Object.entries(group)) {
      for (const method of ["get", "put", "post", "delete", "patch"]) {
        const op = item[method] as Record<string, unknown> | undefined;
        if (!op) continue;
        op.operationId ??= operationId(method, path);
        op.tags = [tag];
        const responses = op.responses as Record<string, unknown>;
        const open = Array.isArray(op.security) && op.security.length === 0;
        if (!open) {
          responses["401"] ??= {
            description: "missing or wrong bearer token (or, for reads, no session)",
            ...problemBody,
          };
        }
        if (MUTATING.has(method)) {
          responses["403"] ??= {
            description: "a change from another origin (Origin header) is refused",
            ...problemBody,
          };
        }
        responses["421"] ??= {
          description: "the relay does not answer to this Host (DNS rebinding guard)",
          ...problemBody,
        };
      }
      paths[path] = item;
    }
  }
  return paths;
}

/** The document /api/v1/openapi.json serves; its paths grouped by the functions below, in order. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "mcr API",
      version,
      description:
        "Configuration and statistics of the mcr multicast relay. Errors are RFC 9457 problem details (application/problem+json): type (a page at /problems/{code}), title, status, detail, code, and for invalid input `errors` with a JSON Pointer to each field. A method a path does not take is answered 405 with an Allow header (components.responses.MethodNotAllowed). PUT /api/v1/config takes If-Match with the ETag of GET /api/v1/config.",
    },
    servers: [{ url: "/", description: "the relay that serves this document" }],
    tags: [
      { name: "monitoring", description: "health and Prometheus metrics" },
      { name: "configuration", description: "rules and the whole configuration" },
      { name: "state", description: "counters, workers, interfaces, version" },
      { name: "pages", description: "the status page, its sign-in, runbooks, these docs" },
      { name: "observation", description: "events, resources, routing, streams, merges" },
      { name: "service", description: "log level, problem types" },
    ],
    components: {
      schemas: Object.fromEntries(
        Object.entries(RESPONSE_SCHEMAS).map(([name, s]) => [name, schema(s)]),
      ),
      responses: {
        MethodNotAllowed: {
          description: "the path does not take this method; Allow lists those it takes",
          headers: { Allow: { schema: { type: "string" } } },
          ...problemBody,
        },
      },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
    paths: withConventions([
      ["monitoring", monitoringPaths()],
      ["configuration", configPaths()],
      ["state", statePaths()],
      ["pages", pagePaths()],
      ["observation", observationPaths()],
      ["service", servicePaths()],
    ]),
  };
}

/** /health and /metrics: for load balancers and Prometheus. */
function monitoringPaths(): Paths {
  return {
    "/health": {
      get: {
        security: [],
        summary: "Health verdict with reasons (200 ok/warning, 503 critical)",
        description:
          "For load balancers and monitoring. Critical (503): a worker not running or making no progress, an " +
          "interface absent or down, a rule waiting for its interfaces or silent beyond stale_ms, a stream or merge " +
          "critical. Warning (200): loss above max_loss_pps, a stream or merge warning. The first 20 reasons are " +
          "listed, critical first; reasons_total counts them all. `mcr health` prints the same with " +
          "monitoring-plugin perfdata.",
        parameters: [
          {
            name: "stale_ms",
            in: "query",
            description: "a rule silent longer than this is critical",
            schema: { type: "integer" },
          },
          {
            name: "max_loss_pps",
            in: "query",
            description: "loss per second above this is critical",
            schema: { type: "number" },
          },
          {
            name: "rule",
            in: "query",
            description: "judge this rule only",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": { description: "ok or warning", ...json("Health") },
          "503": { description: "critical", ...json("Health") },
          "404": { description: "no rule of that name", ...problemBody },
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        description:
          "Counters, gauges and histograms of every worker, rule and output, in the Prometheus text format 0.0.4.",
        responses: { "200": { description: "text format 0.0.4", ...text("text/plain") } },
      },
    },
  };
}

/** The configuration: its rules one by one, or the whole of it. */
function configPaths(): Paths {
  return {
    "/api/v1/rules": {
      get: {
        summary: "List rules",
        description: "The rules in force, as configured.",
        responses: { "200": { description: "rules", ...json("RuleList") } },
      },
      post: {
        summary: "Add a rule",
        description:
          "Validated, applied, then persisted to the config file; 201 only once all three are done. Idempotent: the same rule again answers 200 (a different one of that name 409). Every change honours `Prefer: wait=SECONDS` (RFC 7240, default 10): a change whose turn comes later is refused 503 queue_timeout and never applied.",
        requestBody: { required: true, ...json("Rule") },
        responses: {
          "201": { description: "applied and persisted", ...json("ApplyResult") },
          "200": {
            description:
              "the same rule is already in force (a retry of an add that was applied): nothing changed",
            ...json("ApplyResult"),
          },
          ...errors,
        },
      },
    },
    "/api/v1/rules:batch": {
      post: {
        summary: "Add and remove many rules as one change",
        description:
          "For provisioning: all or nothing. Every rule is validated (the first bad one is named), then the " +
          "result across rules; applied and persisted once before 200. A name may be removed and added " +
          "again in one batch (a replacement). Bodies up to 32 MiB.",
        requestBody: { required: true, ...json("RuleBatchBody") },
        responses: {
          "200": { description: "applied and persisted", ...json("ApplyResult") },
          ...notFound,
          ...errors,
        },
      },
    },
    "/api/v1/rules/{name}": {
      parameters: nameParam,
      get: {
        summary: "Get a rule",
        description: "One rule as configured, with its ETag.",
        responses: {
          "200": withEtag({ description: "rule", ...json("Rule") }),
          ...notFound,
        },
      },
      put: {
        summary: "Replace a rule",
        description:
          "The body's name must be the URL's. Applied and persisted before 200. With If-Match, only while the rule is still what was read.",
        parameters: [ifMatchParam],
        requestBody: { required: true, ...json("Rule") },
        responses: {
          "200": { description: "applied and persisted", ...json("ApplyResult") },
          ...notFound,
          ...preconditionFailed,
          ...errors,
        },
      },
      delete: {
        summary: "Remove a rule",
        description:
          "Its groups are left and its rings released; persisted before 200. With If-Match, only while the rule is still what was read.",
        parameters: [ifMatchParam],
        responses: {
          "200": { description: "applied and persisted", ...json("ApplyResult") },
          ...notFound,
          ...preconditionFailed,
          ...errors,
        },
      },
    },
    "/api/v1/config": {
      get: {
        summary: "The configuration in force",
        description: "Exactly what runs, with its ETag.",
        responses: { "200": withEtag({ description: "config", ...json("Config") }) },
      },
      put: {
        summary: "Replace the whole configuration (validated whole, applied atomically)",
        description:
          "All of it takes effect or none; keys that cannot change live (api) are refused with 409 restart_required. Read-modify-write: send If-Match with the ETag of the GET, and a change made meanwhile by anyone (API, reload, SIGHUP) makes this one 412 instead of being overwritten.",
        parameters: [ifMatchParam],
        requestBody: { required: true, ...json("Config") },
        responses: {
          "200": { description: "applied and persisted", ...json("ApplyResult") },
          ...preconditionFailed,
          ...errors,
        },
      },
    },
    "/api/v1/config/reload": {
      post: {
        summary: "Read the config file again and apply it (what SIGHUP does, answered)",
        description:
          "Answered once the file's configuration is in force (200) or refused (422 invalid_config with every issue, 409, 503): what `mcr reload` and systemd's ExecReload wait for. 404 when the relay has no file.",
        responses: {
          "200": { description: "applied", ...json("ApplyResult") },
          ...errors,
        },
      },
    },
  };
}

/** Counters and state: stats, workers, interfaces. */
function statePaths(): Paths {
  return {
    "/api/v1/stats": {
      get: {
        summary: "Counters and rates per rule, output and worker",
        description:
          "Counters since start (totals never go backwards across worker restarts) and per-second rates over a sliding window.",
        responses: { "200": { description: "stats", ...json("Stats") } },
      },
    },
    "/api/v1/workers": {
      get: {
        summary: "Worker state",
        description: "Each worker: alive, restarts, heartbeat age, counters.",
        responses: { "200": { description: "workers", ...json("Workers") } },
      },
    },
    "/api/v1/interfaces": {
      get: {
        summary: "Interface state",
        description:
          "Every interface a rule names: present, up, MTU, addresses, roles, change events, kernel counters.",
        responses: { "200": { description: "interfaces", ...json("Interfaces") } },
      },
    },
  };
}

/** The status page and its assets. */
function pagePaths(): Paths {
  return {
    "/": {
      get: {
        summary: "The status page (HTML; read-only, no external resources)",
        description:
          "Rules, outputs, rates, drops, health and workers, with a live rate chart fed by the event stream.",
        responses: { "200": { description: "the page", ...text("text/html") } },
      },
    },
    "/ui/app.js": {
      get: {
        summary: "The status page's script",
        description: "Served by mcr itself.",
        responses: { "200": { description: "script", ...text("text/javascript") } },
      },
    },
    "/ui/style.css": {
      get: {
        summary: "The status page's style sheet",
        description: "Served by mcr itself.",
        responses: { "200": { description: "style sheet", ...text("text/css") } },
      },
    },
  };
}

/** Live state: the event stream, resources, routing, inspected streams. */
function observationPaths(): Paths {
  return {
    "/api/v1/events": {
      get: {
        summary:
          "Server-Sent Events: config, interface, worker, health and routing-protocol transitions, and stats every second",
        description:
          "Events: hello, config, interface, worker, health, protocol (IGMP groups and querier, PIM neighbours, MSDP sessions), stats. A subscriber that stops reading is dropped once 256 events behind; it never delays the relay.",
        responses: { "200": { description: "an event stream", ...text("text/event-stream") } },
      },
    },
    "/api/v1/resources": {
      get: {
        summary:
          "What the relay holds: counter slots, memberships, rings per worker (bytes), stuck threads",
        description:
          "For capacity planning and leak checks: every change must leave these as a fresh start would.",
        responses: {
          "200": { description: "resources", ...json("Resources") },
          "404": { description: "not available", ...problemBody },
        },
      },
    },
    "/api/v1/routing": {
      get: {
        summary: "IGMP, PIM and MSDP state",
        description:
          "IGMP queriers and groups per interface, PIM neighbours, DRs and learned routes, MSDP peers and SA cache, the outputs PIM joins added, interfaces waiting, protocol counters.",
        responses: {
          "200": { description: "routing state", ...json("Routing") },
          "404": { description: "not available", ...problemBody },
        },
      },
    },
    "/api/v1/streams": {
      get: {
        summary: "Stream health of the inspected rules",
        description:
          "For each rule with `inspect`: state (ok, warning, critical) with reasons, rates, inter-arrival times, RTP (RFC 3550) and MPEG-TS (ETSI TR 101 290 priority 1 and a priority 2 subset) counters, per-PID counters.",
        responses: { "200": { description: "streams", ...json("Streams") } },
      },
    },
    "/api/v1/streams/{name}": {
      parameters: nameParam,
      get: {
        summary: "Stream health of one inspected rule",
        description: "As in /api/v1/streams, for one rule; 404 when it is not inspected.",
        responses: { "200": { description: "stream", ...json("Stream") }, ...notFound },
      },
    },
    "/api/v1/rules/{name}/explain": {
      parameters: nameParam,
      get: {
        summary:
          "Where a rule's stream stops: each step along its path, ok / warn / fail with a hint",
        description:
          "Walks the path in order: the rule in force; per input its interface (present, up, MTU), the group joined (and how), the IGMP/MLD querier heard on that link; packets arriving and matching (when none, the relay's most recent drop reason and what to do); the relay's drop reasons with when each last occurred; per output its interface, counters, the kernel's errno by name and when it last sent or lost a copy; residence time. `mcr explain RULE` prints it.",
        responses: { "200": { description: "the report", ...json("Explain") }, ...notFound },
      },
    },
    "/api/v1/merges": {
      get: {
        summary: "Merged pairs (ST 2022-7, A/B feeds, failover) and their legs",
        description:
          "For each rule with `merge`: state with reasons, the pair's figures (sent, duplicates, late, lost on every leg, rejected, restarts), each leg's state (up/down), figures and path differential, path diversity over its window, and for failover the active leg, the lock and the last switches.",
        responses: { "200": { description: "merges", ...json("Merges") } },
      },
    },
    "/api/v1/merges/{name}": {
      parameters: nameParam,
      get: {
        summary: "One merged pair",
        description: "As in /api/v1/merges, for one rule; 404 when it is not a merge.",
        responses: { "200": { description: "merge", ...json("Merge") }, ...notFound },
      },
    },
    "/api/v1/merges/{name}/lock": {
      parameters: nameParam,
      put: {
        summary: "Failover: lock the active leg (or lift the lock)",
        description:
          'Body {"leg": n} sends leg n alone whatever the others do; {"leg": null} lifts it. In force with the next datagram; kept across configuration changes while the rule stays a failover merge. 409 merge_lock_refused when the rule is not a failover merge or has no such leg.',
        requestBody: { required: true, ...json("LockBody") },
        responses: {
          "200": { description: "the merge with the lock in force", ...json("Merge") },
          "400": { description: "invalid body", ...problemBody },
          "409": { description: "refused", ...problemBody },
          ...notFound,
        },
      },
    },
  };
}

/** The service itself: version, log level, this document. */
function servicePaths(): Paths {
  return {
    "/api/v1/version": {
      get: {
        summary: "Version and uptime",
        description: "mcr version, commit, Deno and liburing versions.",
        responses: { "200": { description: "version", ...json("Version") } },
      },
    },
    "/api/v1/log-level": {
      get: {
        summary: "Current log level",
        description: "debug, info, warn or error.",
        responses: { "200": { description: "level", ...json("LogLevel") } },
      },
      put: {
        summary: "Set the log level",
        description: "Takes effect at once; not persisted (log.level in the config file is).",
        requestBody: { required: true, ...json("LogLevel") },
        responses: { "200": { description: "level", ...json("LogLevel") }, ...errors },
      },
    },
    "/api/v1/openapi.json": {
      get: {
        summary: "This document",
        description: "OpenAPI 3.1, generated from the schemas the API validates with.",
        responses: {
          "200": {
            description: "OpenAPI 3.1",
            content: { "application/json": { schema: { type: "object" } } },
          },
        },
      },
    },
    "/problems/{code}": {
      parameters: [{ name: "code", in: "path", required: true, schema: { type: "string" } }],
      get: {
        summary: "What a problem type means (the `type` of an error answer)",
        description:
          "A short page naming the problem type's code, its title and the statuses it comes with; readable without the token.",
        security: [],
        responses: {
          "200": { description: "the page", ...text("text/html") },
          "404": { description: "no such problem type", ...problemBody },
        },
      },
    },
    "/login": {
      get: {
        summary: "The status page's sign-in form (non-loopback listener with a token)",
        description:
          "A browser cannot send the bearer token: this form posts it once and gets a session. Without sessions (loopback listener or no token) it redirects to /.",
        security: [],
        responses: {
          "200": { description: "the form", ...text("text/html") },
          "303": { description: "no sessions here: to the status page" },
        },
      },
      post: {
        summary: "Sign in: the API token in a form field, a session cookie back",
        description:
          "Form field `token` (application/x-www-form-urlencoded). The right token sets an HttpOnly, SameSite=Strict session cookie (8 h, 1 h idle) and redirects to /; a session authorises reads only (the page and its event stream), never a change. 401 with the form again for a wrong token; 429 with Retry-After after 10 failures in a minute.",
        security: [],
        requestBody: {
          content: {
            "application/x-www-form-urlencoded": {
              schema: { type: "object", properties: { token: { type: "string" } } },
            },
          },
        },
        responses: {
          "303": { description: "signed in: to the status page" },
          "401": { description: "wrong token: the form again", ...text("text/html") },
          "429": { description: "too many attempts", ...text("text/html") },
        },
      },
    },
    "/logout": {
      post: {
        summary: "Sign out: the session ends and its cookie is cleared",
        description: "Redirects to /login (to / without sessions).",
        security: [],
        responses: { "303": { description: "signed out" } },
      },
    },
    "/runbooks": {
      get: {
        summary: "The runbooks of the shipped Prometheus alerts",
        description:
          "One section per alert (anchor: the alert name), as each alert's runbook_url links it; readable without the token. The same text is docs/runbooks.md.",
        security: [],
        responses: { "200": { description: "the page", ...text("text/html") } },
      },
    },
    "/api/v1/docs": {
      get: {
        summary: "This document as a page",
        description:
          "Every operation with its parameters, request and response schemas; served by mcr, no external resources.",
        responses: { "200": { description: "the page", ...text("text/html") } },
      },
    },
  };
}
