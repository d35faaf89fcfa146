/**
 * Read-modify-write without lost updates: GET /api/v1/config and
 * GET /api/v1/rules/{name} answer a strong ETag (a hash of the JSON they
 * send); a PUT or DELETE with If-Match is applied only while what it read is
 * still what is in force. The check runs inside the relay's one mutation
 * queue, so no other change can come between the check and the apply.
 */
import type { Context } from "hono";
import { ApiError } from "./errors.ts";

/** The entity tag of a JSON value: the first 16 bytes of its SHA-256, quoted. */
export async function etagOf(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `"${[...hash.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** The If-Match header's tags ("*" for any), or null when there is none. */
export function ifMatch(c: Context): string[] | null {
  const h = c.req.header("if-match");
  if (h === undefined) return null;
  return h.split(",").map((t) => t.trim().replace(/^W\//, "")).filter((t) => t !== "");
}

/**
 * Throws 412 precondition_failed unless `current` (what is in force now; undefined: gone)
 * has one of the tags; does nothing without If-Match.
 */
export async function requireMatch(
  tags: string[] | null,
  current: unknown,
  what: string,
): Promise<void> {
  if (tags === null) return;
  if (tags.includes("*") && current !== undefined) return;
  const now = current === undefined ? null : await etagOf(current);
  if (now === null || !tags.includes(now)) {
    throw new ApiError(
      412,
      "precondition_failed",
      `${what} changed since it was read (If-Match ${tags.join(", ")}; now ${
        now ?? "gone"
      }): read it again and redo the change`,
      undefined,
      now === null ? {} : { etag: now },
    );
  }
}
