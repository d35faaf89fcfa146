/** YAML text -> validated Config (or ConfigError naming every bad field). */
import { parseDocument } from "yaml";
import { type Config, ConfigSchema } from "./schema.ts";
import { ConfigError } from "./errors.ts";

/** Validates an already-parsed value (YAML document, JSON body) against the schema. */
export function validateConfig(value: unknown, source: string): Config {
  const result = ConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => ({ path: i.path.filter((p) => typeof p !== "symbol") as (string | number)[], message: i.message })),
      source,
    );
  }
  return result.data;
}

/** Parses YAML text and validates it whole. */
export function parseConfigText(text: string, source: string): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ path: [], message: `YAML: ${e.message.split("\n")[0]}` })), source);
  }
  return validateConfig(doc.toJS({ maxAliasCount: 100 }) ?? {}, source);
}

/** Reads and validates a config file; refuses world-writable files. */
export async function loadConfigFile(path: string): Promise<Config> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (err) {
    throw new ConfigError([{ path: [], message: `cannot read ${path}: ${(err as Error).message}` }], path);
  }
  if (stat.mode !== null && (stat.mode & 0o002) !== 0) {
    throw new ConfigError(
      [{ path: [], message: `${path} is world-writable: anyone could change the relay's configuration (chmod o-w ${path})` }],
      path,
    );
  }
  return parseConfigText(await Deno.readTextFile(path), path);
}
