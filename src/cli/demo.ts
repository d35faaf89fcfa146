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
import { type ChainNames, Topology } from "../tools/topology.ts";
import { checkCapabilities } from "./caps.ts";
import { formatFinalCounters } from "../stats/summary.ts";

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

/** Pulls `key=value` numbers out of the relay's "total:" counter line. */
/** The totals of a "counters" log line of the relay (SIGUSR1), or null if it is not one. */
export function countersTotals(line: string): Record<string, number> | null {
  try {
    const record = JSON.parse(line);
    return record.msg === "counters" ? record.totals : null;
  } catch {
    return null;
  }
}

export async function demoCommand(argv: string[]): Promise<number> {
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
  const { count, rate, size } = parsed.data;

  const caps = checkCapabilities(["CAP_NET_ADMIN", "CAP_NET_RAW"]);
  if (!caps.ok) {
    console.error(`mcr demo builds network namespaces and raw packet sockets. ${caps.message}`);
    return 1;
  }

  const children: Deno.ChildProcess[] = [];
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    for (const c of children) {
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
    console.log("mcr demo: building namespaces gen -> relay -> sink ...");
    const names = await topo.chain();
    console.log(
      `  ${names.gen}: ${names.genIf} 10.0.0.1  ->  ${names.relay}: ${names.relayIn} 10.0.0.2 | ` +
        `${names.relayOut} 10.0.1.1  ->  ${names.sink}: ${names.sinkIf} 10.0.1.2`,
    );
    const configPath = `${dir}/mcr.yaml`;
    Deno.writeTextFileSync(configPath, demoConfig(names), { mode: 0o600 });

    // 1. The relay, in its own namespace.
    const finalStats = `${dir}/final-stats.json`;
    const relay = topo.spawn(
      names.relay,
      selfCommand(["run", "--config", configPath, "--no-persist", "--final-stats", finalStats]),
    );
    children.push(relay);
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

    // 2. The receiver, then the generator.
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
    children.push(sink);
    const sinkOut = new Response(sink.stdout).text();
    sink.stderr.cancel();
    await new Promise((r) => setTimeout(r, 500)); // let the receiver join
    console.log(`  sending ${count} packets of ${size} bytes at ${rate} pps ...`);
    const gen = topo.spawn(
      names.gen,
      selfCommand([
        "gen",
        "--group",
        "239.1.1.1",
        "--port",
        "5001",
        "--count",
        String(count),
        "--rate",
        String(rate),
        "--size",
        String(size),
        "--interface",
        names.genIf,
        "--ttl",
        "4",
        "--json",
      ]),
    );
    children.push(gen);
    const genOut = new Response(gen.stdout).text();
    gen.stderr.cancel();

    // 3. Live counters: SIGUSR1 makes the relay print them; show rates.
    let prev: Record<string, number> | null = null;
    let genDone = false;
    gen.status.then(() => genDone = true);
    while (!genDone && !interrupted) {
      Deno.kill(relay.pid, "SIGUSR1");
      await new Promise((r) => setTimeout(r, 1000));
      const t = lastTotals as Record<string, number> | null;
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
    if (interrupted) {
      console.error("mcr demo: interrupted; cleaning up");
      return 130;
    }
    const genResult = JSON.parse((await genOut).trim().split("\n").pop() || "{}");
    await sink.status;
    const sinkResult = JSON.parse((await sinkOut).trim().split("\n").pop() || "{}");

    relay.kill("SIGTERM");
    await relay.status;
    await relayOutput.catch(() => {});
    await relayExit.catch(() => {});
    const final = formatFinalCounters(JSON.parse(Deno.readTextFileSync(finalStats))).split("\n");
    console.log("  relay final counters:\n" + final.map((l) => `    ${l}`).join("\n"));

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
  } finally {
    for (const c of children) {
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
}
