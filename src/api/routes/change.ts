/**
 * The one way the API changes the configuration: the next config is built
 * from the one in force, validated whole, applied and persisted in the
 * relay's one mutation queue (shared with SIGHUP and interface events), and
 * acknowledged only once it is in force and persisted.
 */
import { ConfigError } from "../../config/errors.ts";
import { validateConfig, validateRuleChange } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import type { Persist } from "../../config/persist.ts";
import type { Logger } from "../../log.ts";
import type { RelayControl } from "../../supervisor/control.ts";
import { invalidConfig } from "../errors.ts";

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
  build: (current: Config) => Config | Promise<Config>,
  rulesOnly = false,
): Promise<Record<string, unknown>> {
  const result = await deps.relay.change(async (current) => {
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
