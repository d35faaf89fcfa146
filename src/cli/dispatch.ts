/**
 * Command dispatch: maps the first argument to a command module. Modules are
 * imported lazily so `mcr health` does not load the data plane.
 */

import { nearest } from "../config/suggest.ts";
import { refuseDebuggerSignal } from "./sigusr1.ts";
export { editDistance } from "../config/suggest.ts";

type Command = (argv: string[]) => Promise<number>;

const VERSION_USAGE = "usage: mcr version [--json]";

/** A command: its one-line summary, how to load it, and its usage text (the source of shell completion). */
export interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
  usage: () => Promise<string>;
}

/** Every command. */
export const COMMANDS: Record<string, CommandEntry> = {
  run: {
    summary: "run the relay with a YAML config (--config FILE)",
    load: async () => (await import("./run.ts")).runCommand,
    usage: async () => (await import("./run.ts")).USAGE,
  },
  demo: {
    summary: "build a throw-away namespace topology, relay traffic through it, show stats",
    load: async () => (await import("./demo.ts")).demoCommand,
    usage: async () => (await import("./demo.ts")).USAGE,
  },
  gen: {
    summary: "send paced, numbered UDP multicast (traffic generator)",
    load: async () => (await import("./gen.ts")).genCommand,
    usage: async () => (await import("./gen.ts")).USAGE,
  },
  sink: {
    summary: "receive a group and account loss, duplicates, reordering",
    load: async () => (await import("./sink.ts")).sinkCommand,
    usage: async () => (await import("./sink.ts")).USAGE,
  },
  rules: {
    summary: "list, add or remove rules of a running relay",
    load: async () => (await import("./rules.ts")).rulesCommand,
    usage: async () => (await import("./rules.ts")).USAGE,
  },
  stats: {
    summary: "live statistics of a running relay (--json for scripts)",
    load: async () => (await import("./stats.ts")).statsCommand,
    usage: async () => (await import("./stats.ts")).USAGE,
  },
  health: {
    summary: "one-line health check for cron/monitoring (exit 0/1/2/3)",
    load: async () => (await import("./health.ts")).healthCommand,
    usage: async () => (await import("./health.ts")).USAGE,
  },
  config: {
    summary:
      "config check FILE | schema | show: validate offline, JSON Schema for editors, what runs",
    load: async () => (await import("./config_check.ts")).configCommand,
    usage: async () =>
      `${(await import("./config_check.ts")).USAGE}\n${
        (await import("./remote.ts")).CONFIG_SHOW_USAGE
      }`,
  },
  workers: {
    summary: "the workers of a running relay: alive, restarts, heartbeat, counters",
    load: async () => (await import("./remote.ts")).workersCommand,
    usage: async () => (await import("./remote.ts")).WORKERS_USAGE,
  },
  routing: {
    summary:
      "IGMP groups, PIM neighbours and learned routes, MSDP peers and SAs of a running relay",
    load: async () => (await import("./remote.ts")).routingCommand,
    usage: async () => (await import("./remote.ts")).ROUTING_USAGE,
  },
  streams: {
    summary:
      "stream health of a running relay's inspected rules: RTP, MPEG-TS (TR 101 290), timing",
    load: async () => (await import("./streams.ts")).streamsCommand,
    usage: async () => (await import("./streams.ts")).USAGE,
  },
  explain: {
    summary: "where a rule's stream stops: each step along its path, OK / WARN / FAIL with a hint",
    load: async () => (await import("./explain.ts")).explainCommand,
    usage: async () => (await import("./explain.ts")).USAGE,
  },
  reload: {
    summary: "make a running relay read its config file again; exit 0 once in force, 1 if refused",
    load: async () => (await import("./reload.ts")).reloadCommand,
    usage: async () => (await import("./reload.ts")).USAGE,
  },
  merges: {
    summary:
      "merged pairs of a running relay (ST 2022-7, A/B feeds, failover): legs, losses repaired, locks",
    load: async () => (await import("./merges.ts")).mergesCommand,
    usage: async () => (await import("./merges.ts")).USAGE,
  },
  "log-level": {
    summary: "show or set the log level of a running relay",
    load: async () => (await import("./remote.ts")).logLevelCommand,
    usage: async () => (await import("./remote.ts")).LOG_LEVEL_USAGE,
  },
  completion: {
    summary: "print a shell completion script: completion bash | completion zsh",
    load: async () => (await import("./completion.ts")).completionCommand,
    usage: async () => (await import("./completion.ts")).USAGE,
  },
  version: {
    summary: "version, commit, Deno and liburing (--json for scripts)",
    // runCli answers `mcr version` itself; this is `mcr help version`.
    load: () =>
      Promise.resolve(() => {
        console.log(VERSION_USAGE);
        return Promise.resolve(0);
      }),
    usage: () => Promise.resolve(VERSION_USAGE),
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
    const { versionJson, versionText } = await import("./self.ts");
    console.log(
      rest.includes("--json") ? JSON.stringify(await versionJson()) : await versionText(),
    );
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
    console.error(
      `mcr: unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ""} (see mcr --help)`,
    );
    return 1;
  }
  refuseSigusr1();
  return await (await command.load())(rest);
}

/**
 * SIGUSR1 ignored, never the runtime's debugger (sigusr1.ts). Where the native library cannot
 * be loaded the command goes on without: `mcr run` and the tools fail on their own there, and
 * the API clients need no library.
 */
function refuseSigusr1(): void {
  try {
    refuseDebuggerSignal().catch(() => {});
  } catch {
    // no native library here
  }
}
