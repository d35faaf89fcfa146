/**
 * Writing a configuration back to its file: see ConfigFile (config_file.ts)
 * for the rules (atomic, comments kept, symlinks followed, conflicts refused).
 */
import { ConfigFile } from "./config_file.ts";
import type { Config } from "./schema.ts";

/** Writes `config` to `path` atomically, editing what the file holds now (no conflict baseline). */
export function writeConfigAtomically(path: string, config: Config): Promise<void> {
  return new ConfigFile(path).write(config);
}

/**
 * How the relay writes an applied configuration back. `check`, when there,
 * refuses (ConfigConflictError) before anything is applied if the file
 * cannot be written back as it stands (changed on disk since mcr read it),
 * so a change refused for that is never briefly in force.
 */
export type Persist = ((config: Config) => Promise<void>) & { check?: () => Promise<void> };

/** The Persist of a ConfigFile. */
export function persistTo(file: ConfigFile): Persist {
  return Object.assign((next: Config) => file.write(next), { check: () => file.checkUnchanged() });
}
