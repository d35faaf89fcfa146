/**
 * What a refused value is told, in plain words, for every schema (YAML, API,
 * CLI share them): "must be at most 65535", "must be a number (got text)",
 * "unknown key \"bogus\"", not zod's own wording ("Too big: expected number
 * to be <=65535", "expected number, received NaN"). Installed once, when the
 * schemas are first imported (src/config/fields.ts).
 */
import { z } from "zod";

/** A value's kind in the words of a YAML or JSON user. */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "number") return Number.isNaN(v) ? "not a number" : "a number";
  if (typeof v === "string") return "text";
  if (typeof v === "boolean") return "true/false";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "text",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  bigint: "a whole number",
};

type Issue = {
  code: string;
  input?: unknown;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  keys?: string[];
  values?: unknown[];
  format?: string;
  divisor?: number;
};

/** The message for one issue, or undefined to keep the schema's own (custom refinements). */
export function plainMessage(iss: Issue): string | undefined {
  switch (iss.code) {
    case "invalid_type": {
      if (iss.input === undefined) return "is required";
      const want = EXPECTED[iss.expected ?? ""] ?? iss.expected;
      if (iss.expected === "int" && typeof iss.input === "number" && Number.isFinite(iss.input)) {
        return "must be a whole number";
      }
      return `must be ${want} (got ${kindOf(iss.input)})`;
    }
    case "too_small":
    case "too_big": {
      const small = iss.code === "too_small";
      const n = Number(small ? iss.minimum : iss.maximum);
      if (iss.origin === "array" || iss.origin === "set") {
        return `needs ${small ? "at least" : "at most"} ${n} item${n === 1 ? "" : "s"}`;
      }
      if (iss.origin === "string") {
        return `must be ${small ? "at least" : "at most"} ${n} character${n === 1 ? "" : "s"} long`;
      }
      if (iss.inclusive === false) return `must be ${small ? "more" : "less"} than ${n}`;
      return `must be ${small ? "at least" : "at most"} ${n}`;
    }
    case "unrecognized_keys":
      return `unknown key${(iss.keys ?? []).length === 1 ? "" : "s"} ${
        (iss.keys ?? []).map((k) => `"${k}"`).join(", ")
      }`;
    case "invalid_value":
      return `must be ${(iss.values ?? []).length === 1 ? "" : "one of "}${
        (iss.values ?? []).map((v) => JSON.stringify(v)).join(", ")
      }`;
    case "invalid_union":
      return "is not one of the accepted forms";
    case "invalid_format":
      return iss.format ? `must be a valid ${iss.format}` : undefined;
    case "not_multiple_of":
      return `must be a multiple of ${iss.divisor}`;
    default:
      return undefined;
  }
}

z.config({ customError: (iss) => plainMessage(iss as Issue) });
