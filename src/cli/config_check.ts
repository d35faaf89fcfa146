/** `mcr config check FILE`: validates a config offline; exit 1 with one line per field error. */
import { ConfigError } from "../config/errors.ts";
import { loadConfigFile } from "../config/load.ts";

const USAGE = "usage: mcr config check FILE";

export async function configCommand(argv: string[]): Promise<number> {
  const [sub, file, ...rest] = argv;
  if (sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (sub !== "check" || !file || rest.length > 0) {
    console.error(`mcr config: expected "check FILE"\n${USAGE}`);
    return 1;
  }
  try {
    const config = await loadConfigFile(file);
    const outputs = config.rules.reduce((n, r) => n + r.outputs.length, 0);
    console.log(`ok: ${file}: ${config.rules.length} rules, ${outputs} outputs`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.describe()) console.error(`${file}: ${line}`);
      return 1;
    }
    throw err;
  }
}
