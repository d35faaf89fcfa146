/** YAML text -> validated Config (or ConfigError naming every bad field). */
import { plainMessage } from "./messages.ts";
import { type Document, LineCounter, parseDocument } from "yaml";
import { checkOnDemand, checkRules, type Config, ConfigSchema } from "./schema.ts";
import { MAX_RULES } from "./limits.ts";
import { ConfigError } from "./errors.ts";
import { z } from "zod";
import { nearest } from "./suggest.ts";

/** Validates an already-parsed value (YAML document, JSON body) against the schema. */
/**
 * Validates a configuration whose rules changed but whose every rule was
 * already parsed by RuleSchema (the API's rule routes): only the checks
 * across rules and the rule count run, so a change to one rule of 10,000
 * does not parse the other 9,999 again. The same checks ConfigSchema runs.
 */
export function validateRuleChange(next: Config, source: string): Config {
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (next.rules.length > MAX_RULES) {
    issues.push({
      path: ["rules"],
      message: plainMessage({ code: "too_big", origin: "array", maximum: MAX_RULES })!,
    });
  }
  const ctx = {
    addIssue: (i: { path: (string | number)[]; message: string }) =>
      issues.push({ path: i.path, message: i.message }),
  };
  checkRules(next.rules, ctx);
  checkOnDemand(next, ctx);
  if (issues.length > 0) throw new ConfigError(issues, source);
  return next;
}

export function validateConfig(value: unknown, source: string): Config {
  const result = ConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => ({
        path: i.path.filter((p) => typeof p !== "symbol") as (string | number)[],
        message: i.message + suggestion(i),
      })),
      source,
    );
  }
  return result.data;
}

/** Every key the configuration schema knows, at any depth (for "did you mean"). */
let knownKeys: Set<string> | null = null;
function configKeys(): Set<string> {
  if (knownKeys) return knownKeys;
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    const props = (node as { properties?: Record<string, unknown> }).properties;
    if (props) { for (const k of Object.keys(props)) keys.add(k); }
    for (const v of Object.values(node as Record<string, unknown>)) walk(v);
  };
  walk(z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }));
  return knownKeys = keys;
}

/** `; did you mean "port"?` for a mistyped key, else "". */
function suggestion(issue: { code: string; keys?: string[] }): string {
  if (issue.code !== "unrecognized_keys" || !issue.keys) return "";
  const hints = issue.keys.map((k) => nearest(k, configKeys())).filter((k): k is string =>
    k !== null
  );
  return hints.length > 0 ? `; did you mean ${hints.map((h) => `"${h}"`).join(", ")}?` : "";
}

/** Parses YAML text and validates it whole. */
export function parseConfigText(text: string, source: string): Config {
  return parseConfigDocument(text, source).config;
}

/** Parses YAML text and validates it whole; the parsed document too (for editing it later). */
export function parseConfigDocument(
  text: string,
  source: string,
): { config: Config; document: Document } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: [], message: `YAML: ${e.message.split("\n")[0]}` })),
      source,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb (or another document the YAML library refuses to expand).
    throw new ConfigError([{
      path: [],
      message: `YAML: ${(err as Error).message} (aliases are expanded at most 100 times)`,
    }], source);
  }
  try {
    return { config: validateConfig(value ?? {}, source), document: doc };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Name where in the user's own file each bad field is.
    throw new ConfigError(
      err.issues.map((i) => ({ ...i, message: `${i.message}${position(doc, lines, i.path)}` })),
      source,
    );
  }
}

/** " (line L, column C)" of the node at `path`, or of its nearest ancestor present in the file. */
function position(doc: Document, lines: LineCounter, path: (string | number)[]): string {
  for (let k = path.length; k >= 0; k--) {
    const node = doc.getIn(path.slice(0, k), true) as
      | { range?: [number, number, number] }
      | undefined;
    if (node && typeof node === "object" && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return ` (line ${line}, column ${col})`;
    }
  }
  return "";
}

/** Reads and validates a config file; refuses world-writable files. */
export async function loadConfigFile(path: string): Promise<Config> {
  return (await loadConfigText(path)).config;
}

/** Reads and validates a config file, returning its text too (the baseline for writing it back). */
export async function loadConfigText(
  path: string,
): Promise<{ config: Config; text: string; document: Document }> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (err) {
    throw new ConfigError(
      [{ path: [], message: `cannot read ${path}: ${(err as Error).message}` }],
      path,
    );
  }
  if (stat.mode !== null && (stat.mode & 0o002) !== 0) {
    throw new ConfigError(
      [{
        path: [],
        message:
          `${path} is world-writable: anyone could change the relay's configuration (chmod o-w ${path})`,
      }],
      path,
    );
  }
  const text = await Deno.readTextFile(path);
  return { ...parseConfigDocument(text, path), text };
}
