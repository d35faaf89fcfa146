/**
 * `mcr config check FILE`: validates a config offline; exit 1 with one line
 * per field error. `mcr config schema`: the configuration's JSON Schema, for
 * editors (generated from the same zod schema as every other check).
 * `mcr config show`: the configuration a running relay has in force.
 */
import { z } from "zod";
import { ConfigError } from "../config/errors.ts";
import { loadConfigFile } from "../config/load.ts";
import { ConfigSchema } from "../config/schema.ts";

export const USAGE = `usage: mcr config check FILE [--json]
       mcr config schema          (JSON Schema of the config file, for editors)
       mcr config show [--api URL] [--json]`;

export async function configCommand(argv: string[]): Promise<number> {
  if (argv[0] === "show") return await (await import("./remote.ts")).configShow(argv.slice(1));
  const json = argv.includes("--json");
  const [sub, file, ...rest] = argv.filter((a) => a !== "--json");
  if (sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (sub === "schema" && file === undefined) {
    const schema = z.toJSONSchema(ConfigSchema, {
      io: "input",
      unrepresentable: "any",
      target: "draft-2020-12",
    });
    console.log(
      JSON.stringify(
        {
          $schema: "https://json-schema.org/draft/2020-12/schema",
          title: "mcr configuration",
          ...schema,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (sub !== "check" || !file || rest.length > 0) {
    console.error(`mcr config: expected "check FILE", "schema" or "show"\n${USAGE}`);
    return 1;
  }
  try {
    const config = await loadConfigFile(file);
    const outputs = config.rules.reduce((n, r) => n + r.outputs.length, 0);
    if (json) console.log(JSON.stringify({ ok: true, file, rules: config.rules.length, outputs }));
    else console.log(`ok: ${file}: ${config.rules.length} rules, ${outputs} outputs`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      if (json) console.log(JSON.stringify({ ok: false, file, errors: err.describe() }));
      else for (const line of err.describe()) console.error(`${file}: ${line}`);
      return 1;
    }
    throw err;
  }
}
