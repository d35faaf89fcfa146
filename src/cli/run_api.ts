// TEMPORARY (not for commit): API wiring lands with the control plane.
import type { Supervisor } from "../supervisor/supervisor.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
export function startApi(_o: { supervisor: Supervisor; config: Config; configPath: string; listen?: string; persist: ((c: Config) => Promise<void>) | null; log: Logger }): Promise<{ shutdown(): Promise<void> }> {
  return Promise.resolve({ shutdown: () => Promise.resolve() });
}
