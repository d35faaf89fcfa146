/**
 * Command-line parsing shared by the commands: node:util parseArgs for the
 * shape, zod (the config's own primitives) for the values, and errors that
 * name the argument: `mcr gen: --rate: must be an integer ...`.
 */
import { parseArgs } from "node:util";
import type { z } from "zod";

export type ParsedArgs<T> = { ok: true; values: T; positionals: string[] } | {
  ok: false;
  message: string;
};

/** Parses argv with string options and validates the values with a zod object schema. */
export function parseCommandArgs<S extends z.ZodObject>(
  command: string,
  argv: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>,
  schema: S,
  allowPositionals = false,
): ParsedArgs<z.infer<S>> {
  let raw;
  try {
    raw = parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    return { ok: false, message: `${command}: ${(err as Error).message}` };
  }
  const result = schema.safeParse(raw.values);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = issue.path.length > 0 ? `--${String(issue.path[0])}` : "arguments";
    return { ok: false, message: `${command}: ${name}: ${issue.message}` };
  }
  return { ok: true, values: result.data, positionals: raw.positionals };
}
