/**
 * `mcr demo`: a self-contained first run. Builds three throw-away network
 * namespaces (generator -> relay -> receiver), starts the relay with a
 * built-in config, sends numbered packets, shows the relay's counters live,
 * prints a verdict from what the receiver saw, and removes everything it
 * created, also when interrupted (Ctrl-C).
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { selfCommand } from "../runtime.ts";
import { genArgv } from "./gen_argv.ts";
import { type ChainNames, Topology } from "../tools/topology.ts";
import { checkCapabilities } from "./caps.ts";
import { formatFinalCounters } from "../stats/summary.ts";
import type { GenResult } from "../tools/gen.ts";
import type { SinkResult } from "../tools/sink.ts";

export const USAGE = `usage: mcr demo [--count N] [--rate PPS] [--size BYTES]

Builds namespaces gen -> relay -> sink, relays 239.1.1.1:5001 to 239.9.9.9:5099
and reports what the receiver got. Needs root (CAP_NET_ADMIN + CAP_NET_RAW).`;

const DemoArgs = z.object({
  count: z.coerce.number().int().min(1).max(10_000_000),
  rate: z.coerce.number().int().min(1).max(1_000_000),
  size: z.coerce.number().int().min(24).max(1472),
});

/** The built-in configuration, for the chain's relay interfaces. */
export function demoConfig(names: Pick<ChainNames, "relayIn" | "relayOut">): string {
  return [
    "# mcr demo configuration (generated)",
    "rules:",
    "  - name: demo",
    `    input: { interface: ${names.relayIn}, group: 239.1.1.1, port: 5001 }`,
    "    outputs:",
    `      - { interface: ${names.relayOut}, group: 239.9.9.9, port: 5099, ttl: 8 }`,
    "",
  ].join("\n");
}

/** Reads lines from a stream and hands each to onLine. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine(buf);
}

/** The totals of a "counters" log line of the relay (SIGUSR2), or null if it is not one. */
export function countersTotals(line: string): Record<string, number> | null {
  try {
    const record = JSON.parse(line);
    return record.msg === "counters" ? record.totals : null;
  } catch {
    return null;
  }
}

/** --count, --rate and --size, validated. */
type DemoOptions = z.infer<typeof DemoArgs>;

/** Shared with the signal handler: the processes started, and whether the run was interrupted. */
interface DemoRun {
  children: Deno.ChildProcess[];
  interrupted: boolean;
}

/** The relay, started, and what it prints. */
interface RelayProcess {
  process: Deno.ChildProcess;
  /** The totals of the relay's last "counters" line (SIGUSR2), null before the first. */
  totals(): Record<string, number> | null;
  /** Settles when its stderr ends. */
  output: Promise<void>;
  /** Settles when it exits. */
  exit: Promise<void>;
  /** Where it writes its final counters (--final-stats). */
  finalStats: string;
}

/** The receiver and the generator, started, and their stdout (JSON). */
interface Traffic {
  sink: Deno.ChildProcess;
  sinkOut: Promise<string>;
  gen: Deno.ChildProcess;
  genOut: Promise<string>;
}

export async function demoCommand(argv: string[]): Promise<number> {
  const options = parseDemoArgs(argv);
  if (typeof options === "number") return options;

  const caps = checkCapabilities(["CAP_NET_ADMIN", "CAP_NET_RAW"]);
  if (!caps.ok) {
    console.error(`mcr demo builds network namespaces and raw packet sockets. ${caps.message}`);
    return 1;
  }

  const run: DemoRun = { children: [], interrupted: false };
  const onInterrupt = () => {
    run.interrupted = true;
    for (const c of run.children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);

  const topo = await Topology.create();
  const dir = Deno.makeTempDirSync({ prefix: "mcr-demo-" });
  try {
    return await runDemo(topo, dir, options, run);
  } finally {
    await teardown(topo, dir, run, onInterrupt);
  }
}

/** Parses and checks the command line: the options, or the exit code (after --help or an error). */
function parseDemoArgs(argv: string[]): DemoOptions | number {
  let raw;
  try {
    raw = parseArgs({
      args: argv,
      options: {
        count: { type: "string", default: "50000" },
        rate: { type: "string", default: "10000" },
        size: { type: "string", default: "1024" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`mcr demo: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (raw.help) {
    console.log(USAGE);
    return 0;
  }
  const parsed = DemoArgs.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    console.error(`mcr demo: --${issue.path.join(".")}: ${issue.message}`);
    return 1;
  }
  return parsed.data;
}

/**
 * The demo itself, in the namespaces: the exit code (0 pass, 2 fail, 1 the
 * relay did not start, 130 interrupted). The caller tears everything down.
 */
async function runDemo(
  topo: Topology,
  dir: string,
  options: DemoOptions,
  run: DemoRun,
): Promise<number> {
  const { names, configPath } = await buildChain(topo, dir);

  // 1. The relay, in its own namespace.
  const relay = await startRelay(topo, names, configPath, dir, run);
  if (typeof relay === "number") return relay;

  // 2. The receiver, then the generator.
  const traffic = await startTraffic(topo, names, options, run);

  // 3. Live counters: SIGUSR2 makes the relay print them; show rates.
  await showCounters(relay, traffic.gen, run);
  if (run.interrupted) {
    console.error("mcr demo: interrupted; cleaning up");
    return 130;
  }
  const genResult: Partial<GenResult> = JSON.parse(
    (await traffic.genOut).trim().split("\n").pop() || "{}",
  );
  await traffic.sink.status;
  const sinkResult: Partial<SinkResult> = JSON.parse(
    (await traffic.sinkOut).trim().split("\n").pop() || "{}",
  );

  await stopRelay(relay);
  return verdict(genResult, sinkResult);
}

/** Builds the namespaces gen -> relay -> sink and writes the relay's configuration into dir. */
async function buildChain(
  topo: Topology,
  dir: string,
): Promise<{ names: ChainNames; configPath: string }> {
  console.log("mcr demo: building namespaces gen -> relay -> sink ...");
  const names = await topo.chain();
  console.log(
    `  ${names.gen}: ${names.genIf} 10.0.0.1  ->  ${names.relay}: ${names.relayIn} 10.0.0.2 | ` +
      `${names.relayOut} 10.0.1.1  ->  ${names.sink}: ${names.sinkIf} 10.0.1.2`,
  );
  const configPath = `${dir}/mcr.yaml`;
  Deno.writeTextFileSync(configPath, demoConfig(names), { mode: 0o600 });
  return { names, configPath };
}

/**
 * Starts the relay in its namespace and waits (15 s at most) for it to say
 * it started: the relay, or the exit code (with its last log lines) if it
 * did not.
 */
async function startRelay(
  topo: Topology,
  names: ChainNames,
  configPath: string,
  dir: string,
  run: DemoRun,
): Promise<RelayProcess | number> {
  const finalStats = `${dir}/final-stats.json`;
  const relay = topo.spawn(
    names.relay,
    selfCommand(["run", "--config", configPath, "--no-persist", "--final-stats", finalStats]),
  );
  run.children.push(relay);
  let started = false;
  let lastTotals: Record<string, number> | null = null;
  const relayLog: string[] = [];
  const relayStarted = Promise.withResolvers<void>();
  const relayOutput = readLines(relay.stderr, (line) => {
    relayLog.push(line);
    if (!started && line.includes("relay started")) {
      started = true;
      relayStarted.resolve();
    }
    if (line.includes('"msg":"counters"')) lastTotals = countersTotals(line);
  });
  relay.stdout.cancel();
  const relayExit = relay.status.then((s) =>
    relayStarted.reject(new Error(`relay exited (${s.code})`))
  );
  const startTimeout = setTimeout(
    () => relayStarted.reject(new Error("relay did not start in 15 s")),
    15_000,
  );
  try {
    await relayStarted.promise;
  } catch (err) {
    console.error(`mcr demo: ${(err as Error).message}\n${relayLog.slice(-20).join("\n")}`);
    return 1;
  } finally {
    clearTimeout(startTimeout);
  }
  console.log(`  relay running (pid ${relay.pid}): 239.1.1.1:5001 -> 239.9.9.9:5099, TTL 8`);
  return {
    process: relay,
    totals: () => lastTotals,
    output: relayOutput,
    exit: relayExit,
    finalStats,
  };
}

/** Starts the receiver, gives it time to join, then starts the generator. */
async function startTraffic(
  topo: Topology,
  names: ChainNames,
  { count, rate, size }: DemoOptions,
  run: DemoRun,
): Promise<Traffic> {
  const sink = topo.spawn(
    names.sink,
    selfCommand([
      "sink",
      "--group",
      "239.9.9.9",
      "--port",
      "5099",
      "--interface",
      names.sinkIf,
      "--expect",
      String(count),
      "--idle-timeout-ms",
      "2000",
      "--json",
    ]),
  );
  run.children.push(sink);
  const sinkOut = new Response(sink.stdout).text();
  sink.stderr.cancel();
  await new Promise((r) => setTimeout(r, 500)); // let the receiver join
  console.log(`  sending ${count} packets of ${size} bytes at ${rate} pps ...`);
  const gen = topo.spawn(
    names.gen,
    selfCommand(genArgv({
      group: "239.1.1.1",
      port: 5001,
      count,
      rate,
      size,
      iface: names.genIf,
      ttl: 4,
    })),
  );
  run.children.push(gen);
  const genOut = new Response(gen.stdout).text();
  gen.stderr.cancel();
  return { sink, sinkOut, gen, genOut };
}

/** Prints the relay's counters every second until the generator is done or the run interrupted. */
async function showCounters(
  relay: RelayProcess,
  gen: Deno.ChildProcess,
  run: DemoRun,
): Promise<void> {
  let prev: Record<string, number> | null = null;
  let genDone = false;
  gen.status.then(() => genDone = true);
  while (!genDone && !run.interrupted) {
    Deno.kill(relay.process.pid, "SIGUSR2");
    await new Promise((r) => setTimeout(r, 1000));
    const t = relay.totals();
    if (t) {
      const rx = t.rx_packets ?? 0;
      const tx = t.tx_sent ?? 0;
      const rxRate = prev ? rx - (prev.rx_packets ?? 0) : rx;
      const txRate = prev ? tx - (prev.tx_sent ?? 0) : tx;
      console.log(
        `  relay: rx ${rx} (${rxRate} pps)  tx ${tx} (${txRate} pps)  ` +
          `kernel_drops ${t.kernel_drops ?? 0}  tx_ring_full ${t.tx_ring_full ?? 0}  tx_errors ${
            t.tx_errors ?? 0
          }`,
      );
      prev = t;
    }
  }
}

/** Stops the relay (SIGTERM), waits for it, and prints the final counters it wrote. */
async function stopRelay(relay: RelayProcess): Promise<void> {
  relay.process.kill("SIGTERM");
  await relay.process.status;
  await relay.output.catch(() => {});
  await relay.exit.catch(() => {});
  const stats = JSON.parse(Deno.readTextFileSync(relay.finalStats));
  const final = formatFinalCounters(stats).split("\n");
  console.log("  relay final counters:\n" + final.map((l) => `    ${l}`).join("\n"));
}

/** Prints the verdict from what was sent and what the receiver got: 0 pass, 2 fail. */
function verdict(genResult: Partial<GenResult>, sinkResult: Partial<SinkResult>): number {
  const sent = genResult.sent ?? 0;
  const got = sinkResult.unique ?? 0;
  const lost = Math.max(0, sent - got);
  console.log(
    `\nverdict: sent ${sent}, delivered ${got}, lost ${lost}, duplicated ${
      sinkResult.duplicates ?? 0
    }, ` +
      `reordered ${sinkResult.reordered ?? 0}, corrupted ${
        sinkResult.corrupted ?? 0
      }, TTL at receiver ${sinkResult.last_ttl ?? "?"}`,
  );
  const ok = sent > 0 && lost === 0 && (sinkResult.duplicates ?? 0) === 0 &&
    (sinkResult.corrupted ?? 0) === 0;
  console.log(
    ok ? "PASS: every packet relayed exactly once, intact." : "FAIL: see the counters above.",
  );
  return ok ? 0 : 2;
}

/**
 * Always, however the run ended: kills every process it started, removes the
 * namespaces and the temporary directory, and the signal handlers.
 */
async function teardown(
  topo: Topology,
  dir: string,
  run: DemoRun,
  onInterrupt: () => void,
): Promise<void> {
  for (const c of run.children) {
    try {
      c.kill("SIGKILL");
    } catch { /* already exited */ }
  }
  await topo.destroy();
  Deno.removeSync(dir, { recursive: true });
  Deno.removeSignalListener("SIGINT", onInterrupt);
  Deno.removeSignalListener("SIGTERM", onInterrupt);
  console.log("mcr demo: namespaces removed.");
}
