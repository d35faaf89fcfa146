/**
 * The one way the API changes the configuration: the next config is built
 * from the one in force, validated whole, applied and persisted in the
 * relay's one mutation queue (shared with SIGHUP and interface events), and
 * acknowledged only once it is in force and persisted.
 *
 * A change is never applied after its client stopped waiting: a client says
 * how long it waits with `Prefer: wait=SECONDS` (RFC 7240; the CLI sends its
 * own timeout), else DEFAULT_WAIT_MS. A change whose turn in the queue comes
 * later than that is refused (503 queue_timeout, Retry-After) and never
 * applied. (Deno does not tell a handler that its client went away while
 * the handler waits, so the client's own bound is what is honoured.)
 */
import { ConfigError } from "../../config/errors.ts";
import { validateConfig, validateRuleChange } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import type { Persist } from "../../config/persist.ts";
import type { Logger } from "../../log.ts";
import type { RelayControl } from "../../supervisor/control.ts";
import type { Context } from "hono";
import { ApiError, invalidConfig } from "../errors.ts";

/** How long a change may wait for its turn when its client does not say (Prefer: wait). */
export const DEFAULT_WAIT_MS = 10_000;
/** The longest wait a client may ask for. */
const MAX_WAIT_S = 3600;

/** `Prefer: wait=N` (RFC 7240), in ms; null when the request has none. */
export function preferWait(c: Context): number | null {
  for (const pref of (c.req.header("prefer") ?? "").split(",")) {
    const m = /^\s*wait\s*=\s*"?(\d+)"?\s*$/i.exec(pref.split(";")[0]);
    if (m) return Math.min(Number(m[1]), MAX_WAIT_S) * 1000;
  }
  return null;
}

/** What a change needs: the relay, where to log it, and how to persist it (null: don't). */
export interface ChangeDeps {
  relay: RelayControl;
  logger: Logger;
  persist: Persist | null;
}

/**
 * Applies build(current) and answers the relay's ApplyResult. `rulesOnly`:
 * the rule routes parsed their rule already, so only cross-rule checks remain.
 */
export async function applyChange(
  deps: ChangeDeps,
  c: Context,
  build: (current: Config) => Config | Promise<Config>,
  rulesOnly = false,
): Promise<Record<string, unknown>> {
  const asked = preferWait(c);
  const waitMs = asked ?? DEFAULT_WAIT_MS;
  if (asked !== null) c.header("Preference-Applied", `wait=${asked / 1000}`);
  const queuedAt = performance.now();
  const result = await deps.relay.change(async (current) => {
    const waited = performance.now() - queuedAt;
    if (waited > waitMs) {
      deps.logger.warn("change not applied: its turn came after its client stopped waiting", {
        method: c.req.method,
        path: c.req.path,
        waited_ms: Math.round(waited),
        wait_ms: waitMs,
      });
      c.header("Retry-After", "1");
      throw new ApiError(
        503,
        "queue_timeout",
        `not applied: the change waited ${
          Math.round(waited)
        } ms for its turn, longer than the ${waitMs} ms its client waits (Prefer: wait); send it again`,
      );
    }
    // A file changed on disk refuses the change before it is applied (409 config_file_changed).
    await deps.persist?.check?.();
    const next = await build(current);
    try {
      return rulesOnly
        ? validateRuleChange(next, "request body")
        : validateConfig(next, "request body");
    } catch (err) {
      if (err instanceof ConfigError) {
        throw invalidConfig(422, "the resulting configuration is invalid; nothing changed", err);
      }
      throw err;
    }
  }, deps.persist ?? undefined);
  deps.logger.info("configuration applied", { ...result });
  return { ...result };
}
