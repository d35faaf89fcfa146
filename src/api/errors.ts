/**
 * How the API answers failure: RFC 9457 problem details
 * (`application/problem+json`: type, title, status, detail, plus `code` and,
 * for invalid input, `errors` with a JSON Pointer to each bad field). Here:
 * every problem type the API can answer (PROBLEM_TYPES: its code and fixed
 * title, declared once: an ApiError can only carry a declared code), ApiError,
 * the request-body and zod helpers that raise it, and the one table from the
 * relay's error classes to status and code that app.onError answers with.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ConfigConflictError } from "../config/config_file.ts";
import { ConfigError, formatPath } from "../config/errors.ts";
import { UnknownRuleError } from "../stats/health.ts";
import {
  ApplyFailedError,
  MergeLockError,
  PersistFailedError,
  ResourceLimitError,
  RestartRequiredError,
} from "../supervisor/errors.ts";
import { NativeError } from "../../ffi/errno.ts";

/** Every problem the API answers, by code: its title (the same for every answer of the type). */
export const PROBLEM_TYPES = {
  invalid_body: "The request body is not valid",
  invalid_rule: "The rule is not valid",
  invalid_config: "The configuration is not valid",
  invalid_name: "The rule name is not valid",
  invalid_query: "A query parameter is not valid",
  malformed_json: "The request body is not JSON",
  unsupported_media_type: "The request body is not JSON",
  body_too_large: "The request body is too large",
  name_mismatch: "The body names another rule than the URL",
  duplicate_name: "A rule name is repeated",
  rule_exists: "A rule of that name exists",
  rule_not_found: "No rule of that name",
  stream_not_found: "No inspected rule of that name",
  merge_not_found: "No merge rule of that name",
  merge_lock_refused: "The merge cannot be locked so",
  no_worker: "No such running worker",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  unauthorized: "A valid bearer token is required",
  forbidden_origin: "Changes from another origin are refused",
  misdirected_host: "This relay does not answer to that host name",
  precondition_failed: "The configuration changed since it was read",
  restart_required: "The key cannot change while the relay runs",
  config_file_changed: "The configuration file changed on disk",
  resource_limit: "A resource limit would be exceeded",
  persist_failed: "The configuration could not be written to its file",
  apply_failed: "The configuration could not be put in force",
  native_error: "The kernel refused an operation",
  queue_timeout: "The change waited longer than its client and was not applied",
  internal: "Internal error",
} as const;

export type ProblemCode = keyof typeof PROBLEM_TYPES;

/** The statuses a problem can have. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 409
  | 412
  | 413
  | 415
  | 421
  | 422
  | 428
  | 500
  | 503;

/** A problem type's URI: a relative reference to its description, served by the relay. */
export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
}

/** One problem in a request or configuration: where (`rules[1].input.group`) and what. */
export interface Issue {
  path: string;
  /** The same place as a JSON Pointer (RFC 6901): `/rules/1/input/group`. */
  pointer: string;
  message: string;
}

/** An API error with its HTTP status and machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: ProblemCode,
    message: string,
    readonly issues?: Issue[],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** An RFC 9457 problem details object, with mcr's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: ErrorStatus;
  detail: string;
  code: ProblemCode;
  /** Invalid input: each bad field, by JSON Pointer and as a path. */
  errors?: { detail: string; pointer: string; path: string }[];
  [extension: string]: unknown;
}

/** A problem of type `code`. */
export function problem(
  status: ErrorStatus,
  code: ProblemCode,
  detail: string,
  issues?: readonly Issue[],
  extra: Record<string, unknown> = {},
): Problem {
  return {
    type: problemType(code),
    title: PROBLEM_TYPES[code],
    status,
    detail,
    code,
    ...(issues && issues.length > 0
      ? { errors: issues.map((i) => ({ detail: i.message, pointer: i.pointer, path: i.path })) }
      : {}),
    ...extra,
  };
}

/** The response of a problem: its status, `application/problem+json`. */
export function problemResponse(c: Context, p: Problem): Response {
  c.header("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(p), p.status);
}

/** A JSON Pointer (RFC 6901) of path segments. */
export function jsonPointer(path: readonly (string | number | symbol)[]): string {
  return path.map((p) => "/" + String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}

/** Reads a JSON body: 415 for another content type, 400 for malformed JSON. */
export async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "request body must be JSON (Content-Type: application/json)",
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(
      400,
      "malformed_json",
      `request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

/** A zod error's issues, each path written out and put under `prefix`. */
export function zodIssues(error: z.ZodError, prefix: (string | number)[] = []): Issue[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path.filter((p): p is string | number => typeof p !== "symbol")];
    return { path: formatPath(path), pointer: jsonPointer(path), message: i.message };
  });
}

/** A ConfigError's issues, each path written out. */
export function configIssues(err: ConfigError): Issue[] {
  return err.issues.map((i) => ({
    path: formatPath(i.path),
    pointer: jsonPointer(i.path),
    message: i.message,
  }));
}

/** An invalid configuration as an ApiError: `invalid_config` with every issue. */
export function invalidConfig(status: 400 | 422, message: string, err: ConfigError): ApiError {
  return new ApiError(status, "invalid_config", message, configIssues(err));
}

/** A row of the error table: an error class, its status and code, and what else its answer says. */
interface ErrorRow {
  type: abstract new (...args: never[]) => Error;
  status: ErrorStatus;
  code: ProblemCode;
  details: (err: Error) => Record<string, unknown>;
}

function row<E extends Error>(
  type: abstract new (...args: never[]) => E,
  status: ErrorStatus,
  code: ProblemCode,
  details: (err: E) => Record<string, unknown> = () => ({}),
): ErrorRow {
  return { type, status, code, details: (err) => details(err as E) };
}

/** The relay's errors as HTTP answers; the first row whose class the error is an instance of. */
export const ERROR_TABLE: readonly ErrorRow[] = [
  row(ConfigError, 422, "invalid_config"),
  row(RestartRequiredError, 409, "restart_required", (e) => ({ key: e.key })),
  row(ConfigConflictError, 409, "config_file_changed"),
  row(PersistFailedError, 503, "persist_failed"),
  row(ApplyFailedError, 503, "apply_failed"),
  row(ResourceLimitError, 409, "resource_limit", (e) => ({ resource: e.resource })),
  // Counter slots exhausted (supervisor/counter_slots.ts) is a resource limit too.
  row(RangeError, 409, "resource_limit"),
  row(UnknownRuleError, 404, "rule_not_found"),
  row(MergeLockError, 409, "merge_lock_refused"),
  row(NativeError, 503, "native_error", (e) => ({ op: e.op, errno: e.code })),
];

/** The problem of an ApiError or of an error in the table; null for any other (a 500). */
export function errorProblem(err: Error): Problem | null {
  if (err instanceof ApiError) {
    return problem(err.status, err.code, err.message, err.issues, err.extra);
  }
  const r = ERROR_TABLE.find((r) => err instanceof r.type);
  if (!r) return null;
  const issues = err instanceof ConfigError ? configIssues(err) : undefined;
  return problem(r.status, r.code, err.message, issues, r.details(err));
}
