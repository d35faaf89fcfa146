/** The OpenAPI 3.1 document of the API, generated from the zod schemas (z.toJSONSchema). */
import { z } from "zod";
import { ConfigSchema, RuleSchema } from "../config/schema.ts";

const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});
const ApplyResultSchema = z.object({
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
  unchanged: z.int(),
});

function schema(s: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
}

const json = (ref: string) => ({ content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } });
const errors = {
  "400": { description: "malformed or invalid body", ...json("Error") },
  "401": { description: "missing or wrong bearer token", ...json("Error") },
  "413": { description: "body too large", ...json("Error") },
  "415": { description: "not JSON", ...json("Error") },
  "422": { description: "the resulting configuration is invalid; nothing changed", ...json("Error") },
};
const nameParam = [{ name: "name", in: "path", required: true, schema: { type: "string" } }];

/** "get /api/v1/rules/{name}" -> "getApiV1RulesByName": one stable, unique id per operation. */
function operationId(method: string, path: string): string {
  const words = path.split("/").filter((p) => p !== "").map((p) => p.startsWith("{") ? `by-${p.slice(1, -1)}` : p);
  const camel = words.join("-").split(/[^A-Za-z0-9]+/).filter((w) => w !== "")
    .map((w) => w[0].toUpperCase() + w.slice(1)).join("");
  return method + (camel || "Root");
}

/** Every operation gets its operationId (clients generated from the document name methods after them). */
function withOperationIds(paths: Record<string, Record<string, unknown>>) {
  for (const [path, item] of Object.entries(paths)) {
    for (const method of ["get", "put", "post", "delete", "patch"]) {
      const op = item[method] as Record<string, unknown> | undefined;
      if (op) op.operationId ??= operationId(method, path);
    }
  }
  return paths;
}

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "mcr API", version, description: "Configuration and statistics of the mcr multicast relay." },
    components: {
      schemas: {
        Rule: schema(RuleSchema),
        Config: schema(ConfigSchema),
        Error: schema(ErrorSchema),
        ApplyResult: schema(ApplyResultSchema),
      },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
    paths: withOperationIds({
      "/health": {
        get: {
          summary: "Health verdict with reasons (200 ok/warning, 503 critical)",
          parameters: [
            { name: "stale_ms", in: "query", schema: { type: "integer" } },
            { name: "max_loss_pps", in: "query", schema: { type: "number" } },
          ],
          responses: { "200": { description: "ok or warning" }, "503": { description: "critical" } },
        },
      },
      "/metrics": { get: { summary: "Prometheus metrics", responses: { "200": { description: "text format 0.0.4" } } } },
      "/api/v1/rules": {
        get: { summary: "List rules", responses: { "200": { description: "rules" } } },
        post: {
          summary: "Add a rule",
          requestBody: { required: true, ...json("Rule") },
          responses: { "201": { description: "applied", ...json("ApplyResult") }, "409": { description: "name exists" }, ...errors },
        },
      },
      "/api/v1/rules/{name}": {
        parameters: nameParam,
        get: { summary: "Get a rule", responses: { "200": { description: "rule", ...json("Rule") }, "404": { description: "no such rule" } } },
        put: {
          summary: "Replace a rule",
          requestBody: { required: true, ...json("Rule") },
          responses: { "200": { description: "applied", ...json("ApplyResult") }, "404": { description: "no such rule" }, ...errors },
        },
        delete: { summary: "Remove a rule", responses: { "200": { description: "applied", ...json("ApplyResult") }, "404": { description: "no such rule" } } },
      },
      "/api/v1/config": {
        get: { summary: "The configuration in force", responses: { "200": { description: "config", ...json("Config") } } },
        put: {
          summary: "Replace the whole configuration (validated whole, applied atomically)",
          requestBody: { required: true, ...json("Config") },
          responses: { "200": { description: "applied", ...json("ApplyResult") }, ...errors },
        },
      },
      "/api/v1/stats": { get: { summary: "Counters and rates per rule, output and worker", responses: { "200": { description: "stats" } } } },
      "/api/v1/workers": { get: { summary: "Worker state", responses: { "200": { description: "workers" } } } },
      "/api/v1/interfaces": { get: { summary: "Interface state", responses: { "200": { description: "interfaces" } } } },
      "/": { get: { summary: "The status page (HTML; read-only, no external resources)", responses: { "200": { description: "text/html" } } } },
      "/ui/app.js": { get: { summary: "The status page's script", responses: { "200": { description: "text/javascript" } } } },
      "/ui/style.css": { get: { summary: "The status page's style sheet", responses: { "200": { description: "text/css" } } } },
      "/api/v1/events": {
        get: {
          summary: "Server-Sent Events: config, interface, worker, health transitions, and stats every second",
          responses: { "200": { description: "text/event-stream" } },
        },
      },
      "/api/v1/resources": {
        get: {
          summary: "What the relay holds: counter slots, memberships, rings per worker (bytes), stuck threads",
          responses: { "200": { description: "resources" } },
        },
      },
      "/api/v1/version": { get: { summary: "Version and uptime", responses: { "200": { description: "version" } } } },
      "/api/v1/log-level": {
        get: { summary: "Current log level", responses: { "200": { description: "level" } } },
        put: { summary: "Set the log level", responses: { "200": { description: "level" }, ...errors } },
      },
      "/api/v1/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } } },
    }),
  };
}
