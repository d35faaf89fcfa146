/**
 * Command dispatch: maps the first argument to a command module. Modules are
 * imported lazily so `mcr health` does not load the data plane.
 */

import { nearest } from "../config/suggest.ts";
export { editDistance } from "../config/suggest.ts";

type Command = (argv: string[]) => Promise<number>;

/** Every command: its one-line summary and how to load it. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: {
    summary: "run the relay with a YAML config (--config FILE)",
    load: async () => (await import("./run.ts")).runCommand,
  },
  demo: {
    summary: "build a throw-away namespace topology, relay traffic through it, show stats",
    load: async () => (await import("./demo.ts")).demoCommand,
  },
  gen: {
    summary: "send paced, numbered UDP multicast (traffic generator)",
    load: async () => (await import("./gen.ts")).genCommand,
  },
  sink: {
    summary: "receive a group and account loss, duplicates, reordering",
    load: async () => (await import("./sink.ts")).sinkCommand,
  },
  rules: {
    summary: "list, add or remove rules of a running relay",
    load: async () => (await import("./rules.ts")).rulesCommand,
  },
  stats: {
    summary: "live statistics of a running relay (--json for scripts)",
    load: async () => (await import("./stats.ts")).statsCommand,
  },
  health: {
    summary: "one-line health check for cron/monitoring (exit 0/1/2/3)",
    load: async () => (await import("./health.ts")).healthCommand,
  },
  config: {
    summary: "config check FILE | schema | show: validate offline, JSON Schema for editors, what runs",
    load: async () => (await import("./config_check.ts")).configCommand,
  },
  workers: {
    summary: "the workers of a running relay: alive, restarts, heartbeat, counters",
    load: async () => (await import("./remote.ts")).workersCommand,
  },
  "log-level": {
    summary: "show or set the log level of a running relay",
    load: async () => (await import("./remote.ts")).logLevelCommand,
  },
};

/** The command a mistyped name most likely meant (at most 2 edits away), or null. */
export function didYouMean(name: string): string | null {
  return nearest(name, Object.keys(COMMANDS));
}

/** Runs the command named by argv[0]; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    const { versionText } = await import("./self.ts");
    console.log(await versionText());
    return 0;
  }
  if (name === "help" && rest.length > 0 && COMMANDS[rest[0]]) {
    // mcr help CMD: the command's own usage.
    return await (await COMMANDS[rest[0]].load())(["--help"]);
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const { helpText } = await import("./self.ts");
    console.log(helpText(COMMANDS));
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const guess = didYouMean(name);
    console.error(`mcr: unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ""} (see mcr --help)`);
    return 1;
  }
  return await (await command.load())(rest);
}
