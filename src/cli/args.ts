/**
 * Command-line parsing shared by the commands: node:util parseArgs for the
 * shape, zod (the config's own primitives) for the values, and errors that
 * name the argument: `mcr gen: --rate: must be an integer ...`.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { nearest } from "../config/suggest.ts";
import { ApiUrl, localProblem } from "./client.ts";

export type ParsedArgs<T> = { ok: true; values: T; positionals: string[] } | {
  ok: false;
  message: string;
  /** --json was given: the failure is told as one JSON line. */
  json: boolean;
};

/**
 * Tells a command-line error: with --json a problem (`code` "usage") on
 * stdout; else the message and the command's usage on stderr. Exit 1.
 */
export function usageFailure(p: { message: string; json: boolean }, usage: string): number {
  if (p.json) console.log(JSON.stringify(localProblem("usage", p.message)));
  else console.error(`${p.message}\n${usage}`);
  return 1;
}

/** node:util's unknown-option message, with the nearest known option suggested. */
function unknownOption(message: string, options: Record<string, unknown>): string {
  const m = /Unknown option '(-{1,2})([^']+)'/.exec(message);
  if (!m) return message;
  const guess = nearest(m[2], Object.keys(options));
  return `unknown option ${m[1]}${m[2]}${guess ? `; did you mean --${guess}?` : ""}`;
}

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
    const json = argv.includes("--json");
    return {
      ok: false,
      message: `${command}: ${unknownOption((err as Error).message, options)}`,
      json,
    };
  }
  const result = schema.safeParse(raw.values);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = issue.path.length > 0 ? `--${String(issue.path[0])}` : "arguments";
    return {
      ok: false,
      message: `${command}: ${name}: ${issue.message}`,
      json: raw.values.json === true,
    };
  }
  return { ok: true, values: result.data, positionals: raw.positionals };
}

/** The options every command that asks a running relay takes. */
export const REMOTE_OPTIONS = {
  api: { type: "string" as const },
  "token-file": { type: "string" as const },
  json: { type: "boolean" as const },
  help: { type: "boolean" as const, short: "h" },
};
export const RemoteArgs = z.object({
  api: ApiUrl.optional(),
  "token-file": z.string().optional(),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

/**
 * Parses a remote command's argv (REMOTE_OPTIONS, plus `extra` options read
 * by `schema`, which extends RemoteArgs): its values and positionals, or the
 * exit code once a usage error is told (1) or the usage printed for --help (0).
 */
export function parseRemote<S extends z.ZodObject = typeof RemoteArgs>(
  command: string,
  argv: string[],
  usage: string,
  schema: S = RemoteArgs as unknown as S,
  extra: Record<string, { type: "string" | "boolean"; short?: string }> = {},
): { values: z.infer<S>; positionals: string[] } | number {
  const p = parseCommandArgs(command, argv, { ...REMOTE_OPTIONS, ...extra }, schema, true);
  if (!p.ok) return usageFailure(p, usage);
  if ((p.values as { help?: boolean }).help) return (console.log(usage), 0);
  return p;
}
