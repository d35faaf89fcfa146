/**
 * `mcr run --config FILE`: starts the relay (supervisor + workers) and its
 * HTTP API, and handles signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads
 * the config file (validated whole; on error the old one stays), SIGUSR2
 * prints the counters.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../config/errors.ts";
import { ConfigFile } from "../config/config_file.ts";
import { persistTo } from "../config/persist.ts";
import type { Config } from "../config/schema.ts";
import { Supervisor } from "../supervisor/supervisor.ts";
import { checkCapabilities } from "./caps.ts";
import { prepareApi, type PreparedApi, startApi } from "./run_api.ts";
import { raiseFileLimit } from "../../ffi/process.ts";
import { createLogger, type Logger } from "../log.ts";
import { countersRecord } from "../stats/summary.ts";
import { type Notifier, systemdNotifier } from "./systemd.ts";
import { EventBus } from "../events.ts";
import type { FaultKind } from "../api/routes/views.ts";

export const USAGE = `usage: mcr run --config FILE [--listen HOST:PORT] [--no-api] [--no-persist]

Runs the relay. Options:
  --config FILE       YAML configuration (see examples/mcr.yaml)
  --listen HOST:PORT  API listen address (overrides api.listen; default 127.0.0.1:8787)
  --no-api            do not serve the HTTP API
  --no-persist        do not write runtime changes back to FILE
  --log-level LEVEL   debug | info | warn | error
  --final-stats FILE  write the final counters as JSON to FILE on exit`;

/** The options of `mcr run`, checked: a config file is given, the log level is one of the four. */
interface RunArgs {
  config: string;
  listen?: string;
  "no-api"?: boolean;
  "no-persist"?: boolean;
  "log-level"?: string;
  "final-stats"?: string;
}

/** The configuration, loaded, and the API's listeners, bound (null with --no-api). */
interface Prepared {
  file: ConfigFile;
  config: Config;
  prepared: PreparedApi | null;
}

/** The running relay. */
interface Started {
  supervisor: Supervisor;
  events: EventBus;
}

/** The installed signal handlers. */
interface Signals {
  /** Resolves on SIGTERM or SIGINT. */
  stopped: Promise<void>;
  printCounters(): void;
  remove(): void;
}

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseRunArgs(argv);
  if (typeof args === "number") return args;

  // From here on stderr carries JSON lines only (the journal's priorities follow the levels).
  const log = createLogger({ level: (args["log-level"] ?? "info") as "info" });
  const loaded = await prepareRelay(args, log);
  if (typeof loaded === "number") return loaded;
  const started = await startSupervisor(loaded, log);
  if (typeof started === "number") return started;
  const { supervisor } = started;

  // Signal handlers before anything announces the relay (a SIGUSR2 or SIGHUP
  // without a listener would end the process).
  const systemd = systemdNotifier(log);
  const signals = listenForSignals(supervisor, loaded.file, log, systemd);

  const api = await serveApi(args, loaded, started, log);
  if (typeof api === "number") return api;
  systemd.ready(`${supervisor.config().rules.length} rules in force`);
  const stopWatchdog = systemd.watchdog(() => supervisor.dataPlaneHealthy());

  await signals.stopped;
  systemd.stopping();
  stopWatchdog();
  await stopRelay(args, supervisor, api, signals, log);
  return 0;
}

/** Parses and checks the command line: the options, or the exit code (after --help or an error). */
function parseRunArgs(argv: string[]): RunArgs | number {
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
  return { ...args, config: args.config };
}

/** Logs why the relay cannot run; the exit code. */
function fail(log: Logger, message: string): number {
  log.error(`mcr run: ${message}`);
  return 1;
}

/**
 * Checks the capabilities, loads the configuration and binds the API's
 * listeners: the exit code if any of it fails.
 */
async function prepareRelay(args: RunArgs, log: Logger): Promise<Prepared | number> {
  const caps = checkCapabilities(["CAP_NET_RAW", "CAP_NET_ADMIN"]);
  if (!caps.ok) return fail(log, caps.message);

  const path = args.config;
  const file = new ConfigFile(path);
  let config: Config;
  try {
    config = await file.load();
  } catch (err) {
    if (err instanceof ConfigError) return fail(log, err.message);
    throw err;
  }
  log.level = (args["log-level"] ?? config.log?.level ?? "info") as "info";
  // Everything the API needs is checked (and its listeners bound) before
  // any ring is created or group joined: a bad listen address, port or
  // token stops here with its cause, having touched nothing.
  let prepared: PreparedApi | null = null;
  if (!args["no-api"]) {
    try {
      prepared = prepareApi(config, args.listen);
    } catch (err) {
      return fail(log, (err as Error).message);
    }
  }
  return { file, config, prepared };
}

/** Starts the supervisor and its workers; on failure stops them, closes the API's listeners. */
async function startSupervisor(loaded: Prepared, log: Logger): Promise<Started | number> {
  raiseFileLimit();
  const events = new EventBus();
  const supervisor = new Supervisor(loaded.config, {
    logger: log,
    onEvent: (type, data) => events.publish(type, data),
  });
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.stop();
    loaded.prepared?.close();
    return fail(log, `cannot start: ${(err as Error).message}`);
  }
  return { supervisor, events };
}

/**
 * SIGTERM/SIGINT stop, SIGHUP reloads the config file, SIGUSR2 prints the counters. SIGUSR1 is
 * ignored: the runtime would open a debugger on it (sigusr1.ts, set up by dispatch.ts).
 */
function listenForSignals(
  supervisor: Supervisor,
  file: ConfigFile,
  log: Logger,
  systemd: Notifier,
): Signals {
  const printCounters = () => log.info("counters", countersRecord(supervisor.stats()));
  const stopped = Promise.withResolvers<void>();
  const onStop = () => stopped.resolve();
  // One reload waiting stands for any number of SIGHUPs: a storm of signals is one reload
  // (a SIGHUP after the file was read asks for another: the file may have changed since).
  let waiting = false;
  const onHup = async () => {
    if (waiting) return;
    waiting = true;
    systemd.reloading();
    try {
      // Read the file when this change's turn comes in the one mutation queue,
      // so a reload never undoes an API change persisted just before it.
      let read = false;
      try {
        const result = await supervisor.change(() => {
          waiting = false;
          read = true;
          return file.load();
        });
        log.info("configuration reloaded", { ...result });
      } finally {
        if (!read) waiting = false; // refused before its turn (stopping): the next SIGHUP is heard
      }
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
  Deno.addSignalListener("SIGUSR2", printCounters);
  return {
    stopped: stopped.promise,
    printCounters,
    remove() {
      Deno.removeSignalListener("SIGTERM", onStop);
      Deno.removeSignalListener("SIGINT", onStop);
      Deno.removeSignalListener("SIGHUP", onHup);
      Deno.removeSignalListener("SIGUSR2", printCounters);
    },
  };
}

/** Starts the HTTP API (null with --no-api); on failure stops the relay: the exit code. */
async function serveApi(
  args: RunArgs,
  loaded: Prepared,
  started: Started,
  log: Logger,
): Promise<{ shutdown(): Promise<void> } | null | number> {
  const { file, config, prepared } = loaded;
  const { supervisor, events } = started;
  const persist = args["no-persist"] ? null : persistTo(file);
  let api: { shutdown(): Promise<void> } | null = null;
  if (prepared) {
    try {
      const injectFault = Deno.env.get("MCR_FAULT_INJECTION") === "1"
        ? (worker: number, kind: FaultKind, ms?: number) => supervisor.injectFault(worker, kind, ms)
        : undefined;
      // The file read when this change's turn comes in the one mutation queue.
      const reload = () => supervisor.change(() => file.load());
      api = await startApi({
        supervisor,
        config,
        prepared,
        persist,
        log,
        injectFault,
        events,
        reload,
      });
    } catch (err) {
      await supervisor.stop();
      return fail(log, (err as Error).message);
    }
  }
  return api;
}

/** The way out: signal handlers removed, API and relay stopped, final counters printed. */
async function stopRelay(
  args: RunArgs,
  supervisor: Supervisor,
  api: { shutdown(): Promise<void> } | null,
  signals: Signals,
  log: Logger,
): Promise<void> {
  log.info("stopping");
  signals.remove();
  await api?.shutdown();
  await supervisor.stop();
  signals.printCounters();
  if (args["final-stats"]) {
    Deno.writeTextFileSync(args["final-stats"], JSON.stringify(supervisor.stats()) + "\n");
  }
}
