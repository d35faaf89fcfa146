/**
 * POST /api/v1/rules:batch — many rules added and removed as ONE change, for
 * provisioning systems: `{"add": [rule, ...], "remove": ["name", ...]}`.
 * All or nothing: every rule is parsed first (the first bad one is named,
 * with its own issues), names are checked against the configuration in
 * force when the change runs, then the result is validated across rules,
 * applied and persisted once. Nothing is in force unless the answer is 200.
 */
import { Hono } from "hono";
import { z } from "zod";
import { MAX_RULES } from "../../config/limits.ts";
import { type Config, type Rule, RuleSchema } from "../../config/schema.ts";
import { ApiError, jsonBody, zodIssues } from "../errors.ts";
import { RuleBatchBody } from "../responses.ts";
import { applyChange, type ChangeDeps } from "./change.ts";

/** The batch route's path (Hono: a parameter whose pattern is the literal `rules:batch`). */
export const BATCH_ROUTE = "/api/v1/:resource{rules:batch}";
export const BATCH_PATH = "/api/v1/rules:batch";
/** A batch body may be larger than other requests' (5,000 rules are about 1.5 MB of JSON). */
export const BATCH_BODY_LIMIT = 32 * 1024 * 1024;

/** The documented body (RuleBatchBody), its rules read one by one below to name the first bad one. */
const BatchBody = RuleBatchBody.extend({
  add: z.array(z.unknown()).max(MAX_RULES).optional(),
}).refine((b) => (b.add?.length ?? 0) + (b.remove?.length ?? 0) > 0, {
  message: "nothing to do: give add, remove or both",
});

/** Each rule parsed by the one rule schema; the first bad one is the error (400 invalid_rule). */
function parseRules(items: readonly unknown[]): Rule[] {
  const rules: Rule[] = [];
  for (let i = 0; i < items.length; i++) {
    const parsed = RuleSchema.safeParse(items[i]);
    if (!parsed.success) {
      const item = items[i] as { name?: unknown } | null;
      const name = typeof item?.name === "string" ? ` (rule "${item.name}")` : "";
      throw new ApiError(
        400,
        "invalid_rule",
        `add[${i}]${name} is invalid; nothing changed`,
        zodIssues(parsed.error, ["add", i]),
      );
    }
    rules.push(parsed.data);
  }
  return rules;
}

/** The next configuration: `remove` taken out, then `add` appended; refused whole on the first conflict. */
function batchOf(current: Config, add: readonly Rule[], remove: readonly string[]): Config {
  const present = new Set(current.rules.map((r) => r.name));
  const removing = new Set<string>();
  for (const name of remove) {
    if (!present.has(name)) {
      throw new ApiError(404, "rule_not_found", `remove: no rule named "${name}"; nothing changed`);
    }
    if (removing.has(name)) {
      throw new ApiError(400, "duplicate_name", `remove names "${name}" twice; nothing changed`);
    }
    removing.add(name);
  }
  const adding = new Set<string>();
  for (let i = 0; i < add.length; i++) {
    const name = add[i].name;
    if (adding.has(name)) {
      throw new ApiError(
        400,
        "duplicate_name",
        `add[${i}] names "${name}", as an earlier rule of the batch does; nothing changed`,
      );
    }
    if (present.has(name) && !removing.has(name)) {
      throw new ApiError(
        409,
        "rule_exists",
        `add[${i}]: a rule named "${name}" already exists (remove it in the same batch to replace it); nothing changed`,
      );
    }
    adding.add(name);
  }
  const kept = removing.size === 0
    ? current.rules
    : current.rules.filter((r) => !removing.has(r.name));
  return { ...current, rules: [...kept, ...add] };
}

export function batchRoutes(deps: ChangeDeps): Hono {
  const batch = new Hono();
  batch.post(BATCH_ROUTE, async (c) => {
    const body = BatchBody.safeParse(await jsonBody(c));
    if (!body.success) {
      throw new ApiError(400, "invalid_body", "invalid batch", zodIssues(body.error));
    }
    const add = parseRules(body.data.add ?? []);
    const remove = body.data.remove ?? [];
    const result = await applyChange(deps, c, (cfg) => batchOf(cfg, add, remove), true);
    return c.json(result);
  });
  return batch;
}
