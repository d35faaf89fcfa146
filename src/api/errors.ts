/**
 * How the API answers failure: ApiError (an HTTP status and a
 * machine-readable code), the request-body and zod helpers that raise it,
 * and the one table from the relay's error classes to status and code that
 * app.onError answers with.
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

/** The statuses an error answer can have (besides 500 internal). */
export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 415 | 422 | 503;

/** One problem in a request or configuration: where (`rules[1].input.group`) and what. */
export interface Issue {
  path: string;
  message: string;
}

/** An API error with its HTTP status and machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
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
  return error.issues.map((i) => ({
    path: formatPath([
      ...prefix,
      ...i.path.filter((p): p is string | number => typeof p !== "symbol"),
    ]),
    message: i.message,
  }));
}

/** A ConfigError's issues, each path written out. */
export function configIssues(err: ConfigError): Issue[] {
  return err.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

/** An invalid configuration as an ApiError: `invalid_config` with every issue. */
export function invalidConfig(status: 400 | 422, message: string, err: ConfigError): ApiError {
  return new ApiError(status, "invalid_config", message, configIssues(err));
}

/** A row of the error table: an error class, its status and code, and what else its answer says. */
interface ErrorRow {
  type: abstract new (...args: never[]) => Error;
  status: ErrorStatus;
  code: string;
  details: (err: Error) => Record<string, unknown>;
}

function row<E extends Error>(
  type: abstract new (...args: never[]) => E,
  status: ErrorStatus,
  code: string,
  details: (err: E) => Record<string, unknown> = () => ({}),
): ErrorRow {
  return { type, status, code, details: (err) => details(err as E) };
}

/** The relay's errors as HTTP answers; the first row whose class the error is an instance of. */
export const ERROR_TABLE: readonly ErrorRow[] = [
  row(ConfigError, 422, "invalid_config", (e) => ({ issues: configIssues(e) })),
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

/** An error answer: its status and `{ error: { code, message, ... } }` body. */
export interface ErrorAnswer {
  status: ErrorStatus;
  body: { error: Record<string, unknown> };
}

/** The answer to an ApiError or to an error in the table; null for any other (a 500). */
export function errorAnswer(err: Error): ErrorAnswer | null {
  if (err instanceof ApiError) {
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message, issues: err.issues } },
    };
  }
  const r = ERROR_TABLE.find((r) => err instanceof r.type);
  if (!r) return null;
  return {
    status: r.status,
    body: { error: { code: r.code, message: err.message, ...r.details(err) } },
  };
}
