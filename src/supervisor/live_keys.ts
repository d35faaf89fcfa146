/**
 * Which configuration keys take effect while the relay runs. Every key is
 * either applied live or refused (RestartRequiredError, HTTP 409
 * restart_required naming it): never acknowledged and silently ignored.
 *
 *   live:     rules, ring (new sizes apply to rings re-created from then on;
 *             TX rings are re-created at once), log.level, workers (workers
 *             start or stop; RX rings pass to new fanout groups by a ring
 *             succession, src/dataplane/succession.ts), worker_cpus (each
 *             worker pins its own thread when it applies the plan)
 *   restart:  api (listen, unix_socket, token source, body limit)
 *   (log.format has one value, json: the schema refuses any other)
 */
import type { Config } from "../config/schema.ts";

/** Keys that only take effect at start: a change to them is refused (409), never silently ignored. */
export function restartOnlyKey(before: Config, next: Config): string | null {
  if (JSON.stringify(before.api ?? {}) !== JSON.stringify(next.api ?? {})) return "api";
  return null;
}
