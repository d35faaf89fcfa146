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
