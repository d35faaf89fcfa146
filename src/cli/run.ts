/**
 * `mcr run --config FILE`: starts the relay (supervisor + workers) and its
 * HTTP API, and handles signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads
 * the config file (validated whole; on error the old one stays), SIGUSR1
 * prints the counters.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../config/errors.ts";
import { ConfigFile } from "../config/config_file.ts";
import type { Config } from "../config/schema.ts";
import { Supervisor } from "../supervisor/supervisor.ts";
import { checkCapabilities } from "./caps.ts";
import { prepareApi, type PreparedApi, startApi } from "./run_api.ts";
import { raiseFileLimit } from "../../ffi/process.ts";
import { createLogger } from "../log.ts";
import { countersRecord } from "../stats/summary.ts";
import { systemdNotifier } from "./systemd.ts";
import { EventBus } from "../events.ts";

export const USAGE = `usage: mcr run --config FILE [--listen HOST:PORT] [--no-api] [--no-persist]

Runs the relay. Options:
  --config FILE       YAML configuration (see examples/mcr.yaml)
  --listen HOST:PORT  API listen address (overrides api.listen; default 127.0.0.1:8787)
  --no-api            do not serve the HTTP API
  --no-persist        do not write runtime changes back to FILE
  --log-level LEVEL   debug | info | warn | error
  --final-stats FILE  write the final counters as JSON to FILE on exit`;

export async function runCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        listen: { type: "string" },
        "no-api": { type: "boolean" },
        "no-persist": { type: "boolean" },
        "log-level": { type: "string" },
        "final-stats": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    console.error(`mcr run: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.config) {
    console.error(`mcr run: --config: a configuration file is required\n${USAGE}`);
    return 1;
  }
  const level = args["log-level"];
  if (level !== undefined && !["debug", "info", "warn", "error"].includes(level)) {
    console.error(`mcr run: --log-level: must be one of debug, info, warn, error`);
    return 1;
  }

  // From here on stderr carries JSON lines only (the journal's priorities follow the levels).
  const log = createLogger({ level: (level ?? "info") as "info" });
  const fail = (message: string): number => {
    log.error(`mcr run: ${message}`);
    return 1;
  };
  const caps = checkCapabilities(["CAP_NET_RAW", "CAP_NET_ADMIN"]);
  if (!caps.ok) return fail(caps.message);

  const path = args.config;
  const file = new ConfigFile(path);
  let config: Config;
  try {
    config = await file.load();
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  log.level = (level ?? config.log?.level ?? "info") as "info";
  // Everything the API needs is checked (and its listeners bound) before
  // any ring is created or group joined: a bad listen address, port or
  // token stops here with its cause, having touched nothing.
  let prepared: PreparedApi | null = null;
  if (!args["no-api"]) {
    try {
      prepared = prepareApi(config, args.listen);
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  raiseFileLimit();
  const events = new EventBus();
  const supervisor = new Supervisor(config, {
    logger: log,
    onEvent: (type, data) => events.publish(type, data),
  });
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.stop();
    prepared?.close();
    return fail(`cannot start: ${(err as Error).message}`);
  }

  // Signal handlers before anything announces the relay (a SIGUSR1 or SIGHUP
  // without a listener would end the process).
  const systemd = systemdNotifier(log);
  const printCounters = () => log.info("counters", countersRecord(supervisor.stats()));
  const stopped = Promise.withResolvers<void>();
  const onStop = () => stopped.resolve();
  const onHup = async () => {
    systemd.reloading();
    try {
      // Read the file when this change's turn comes in the one mutation queue,
      // so a reload never undoes an API change persisted just before it.
      const result = await supervisor.change(() => file.load());
      log.info("configuration reloaded", { ...result });
    } catch (err) {
      log.error("reload failed; keeping the running configuration", {
        error: (err as Error).message,
      });
    }
    systemd.ready(`${supervisor.config().rules.length} rules in force`);
  };
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGINT", onStop);
  Deno.addSignalListener("SIGHUP", onHup);
  Deno.addSignalListener("SIGUSR1", printCounters);

  const persist = args["no-persist"] ? null : (next: Config) => file.write(next);
  let api: { shutdown(): Promise<void> } | null = null;
  if (prepared) {
    try {
      const injectFault = Deno.env.get("MCR_FAULT_INJECTION") === "1"
        ? (worker: number, kind: "throw" | "hang" | "stall" | "fail_apply", ms?: number) =>
          supervisor.injectFault(worker, kind, ms)
        : undefined;
      api = await startApi({ supervisor, config, prepared, persist, log, injectFault, events });
    } catch (err) {
      await supervisor.stop();
      return fail((err as Error).message);
    }
  }
  systemd.ready(`${supervisor.config().rules.length} rules in force`);
  const stopWatchdog = systemd.watchdog(() => supervisor.dataPlaneHealthy());

  await stopped.promise;
  systemd.stopping();
  stopWatchdog();
  log.info("stopping");
  Deno.removeSignalListener("SIGTERM", onStop);
  Deno.removeSignalListener("SIGINT", onStop);
  Deno.removeSignalListener("SIGHUP", onHup);
  Deno.removeSignalListener("SIGUSR1", printCounters);
  await api?.shutdown();
  await supervisor.stop();
  printCounters();
  if (args["final-stats"]) {
    Deno.writeTextFileSync(args["final-stats"], JSON.stringify(supervisor.stats()) + "\n");
  }
  return 0;
}
