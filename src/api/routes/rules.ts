/**
 * /api/v1/rules: list, read, add (POST), replace (PUT) and remove (DELETE)
 * one rule. Every change goes through applyChange, so it is validated
 * against the whole configuration and persisted before it is acknowledged.
 * GET of one rule answers an ETag; PUT and DELETE honour If-Match (../etag.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { type Rule, RuleName, RuleSchema } from "../../config/schema.ts";
import { ApiError, jsonBody, zodIssues } from "../errors.ts";
import { applyChange, type ChangeDeps } from "./change.ts";
import { etagOf, ifMatch, requireMatch } from "../etag.ts";
import { canonical } from "../../config/rule_edit.ts";

/** The `:name` path parameter, checked: 400 invalid_name. */
export function nameParam(c: Context): string {
  const p = RuleName.safeParse(c.req.param("name"));
  if (!p.success) {
    throw new ApiError(400, "invalid_name", "invalid rule name", zodIssues(p.error, ["name"]));
  }
  return p.data;
}

/** The request body as one rule: 400 invalid_rule with every bad field. */
async function ruleBody(c: Context): Promise<Rule> {
  const parsed = RuleSchema.safeParse(await jsonBody(c));
  if (!parsed.success) {
    throw new ApiError(
      400,
      "invalid_rule",
      "invalid rule; nothing changed",
      zodIssues(parsed.error),
    );
  }
  return parsed.data;
}

export function rulesRoutes(deps: ChangeDeps): Hono {
  const rules = new Hono();
  rules.get("/", (c) => c.json(deps.relay.config().rules));
  rules.get("/:name", async (c) => {
    const name = nameParam(c);
    const rule = deps.relay.config().rules.find((r) => r.name === name);
    if (!rule) throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
    c.header("ETag", await etagOf(rule));
    return c.json(rule);
  });
  rules.post("/", async (c) => {
    const rule = await ruleBody(c);
    // A retry of an add that was applied (its client gave up on the answer) finds the
    // same rule in force: 200, nothing changed. Another rule of that name: 409.
    let already = false;
    const result = await applyChange(deps, c, (cfg) => {
      const existing = cfg.rules.find((r) => r.name === rule.name);
      if (existing !== undefined && canonical(existing) === canonical(rule)) {
        already = true;
        return cfg;
      }
      if (existing !== undefined) {
        throw new ApiError(
          409,
          "rule_exists",
          `a different rule named "${rule.name}" already exists (PUT to replace it)`,
        );
      }
      return { ...cfg, rules: [...cfg.rules, rule] };
    }, true);
    return c.json(result, already ? 200 : 201);
  });
  rules.put("/:name", async (c) => {
    const name = nameParam(c);
    const tags = ifMatch(c);
    const rule = await ruleBody(c);
    if (rule.name !== name) {
      throw new ApiError(
        422,
        "name_mismatch",
        `body names rule "${rule.name}" but the URL names "${name}"`,
        [{ path: "name", pointer: "/name", message: `must be "${name}"` }],
      );
    }
    const result = await applyChange(deps, c, async (cfg) => {
      const i = cfg.rules.findIndex((r) => r.name === name);
      if (i >= 0) await requireMatch(tags, cfg.rules[i], `rule "${name}"`);
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
    const tags = ifMatch(c);
    const result = await applyChange(deps, c, async (cfg) => {
      const found = cfg.rules.find((r) => r.name === name);
      if (!found) {
        throw new ApiError(404, "rule_not_found", `no rule named "${name}"`);
      }
      await requireMatch(tags, found, `rule "${name}"`);
      return { ...cfg, rules: cfg.rules.filter((r) => r.name !== name) };
    }, true);
    return c.json(result);
  });
  return rules;
}
