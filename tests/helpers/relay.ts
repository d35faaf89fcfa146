/**
 * Processes of an end-to-end run: the relay (`mcr run`), the generator
 * (`mcr gen`) and the receiver (`mcr sink`), each started in a namespace of
 * a Topology. Results come back as the JSON the commands print.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import { type GenArgv, genArgv } from "../../src/cli/gen_argv.ts";
import type { ChainNames, Topology } from "../../src/tools/topology.ts";
import type { StatsSnapshot } from "../../src/supervisor/control.ts";
import type { SinkResult } from "../../src/tools/sink.ts";
import type { GenResult } from "../../src/tools/gen.ts";

export interface RunningRelay {
  process: Deno.ChildProcess;
  /** Everything the relay printed on stderr so far. */
  log: string[];
  configPath: string;
  /** Stops the relay (SIGTERM) and returns its final counters. */
  stop(): Promise<{ code: number; stats: StatsSnapshot | null }>;
}

/**
 * Starts `mcr run` in `ns` with the YAML config text; resolves once the relay
 * logged "relay started" (rejects with its log if it exits first).
 */
export async function startRelay(
  topo: Topology,
  ns: string,
  configYaml: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  /** A command the relay runs under (e.g. setpriv, to take a capability away). */
  wrapper: string[] = [],
): Promise<RunningRelay> {
  // With the API on, the relay is ready once it listens; without, once it started.
  const readyLine = extraArgs.includes("--no-api") ? "relay started" : "API listening";
  const dir = Deno.makeTempDirSync({ prefix: "mcr-test-" });
  const configPath = `${dir}/mcr.yaml`;
  const statsPath = `${dir}/final-stats.json`;
  Deno.writeTextFileSync(configPath, configYaml, { mode: 0o600 });
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const process = topo.spawn(
    ns,
    [
      ...wrapper,
      ...(envArgs.length ? ["env", ...envArgs] : []),
      ...selfCommand(["run", "--config", configPath, "--final-stats", statsPath, ...extraArgs]),
    ],
  );
  process.stdout.cancel();
  const log: string[] = [];
  const started = Promise.withResolvers<void>();
  let buf = "";
  const reader = (async () => {
    for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        log.push(line);
        if (line.includes(readyLine)) started.resolve();
      }
    }
  })();
  const status = process.status;
  status.then((s) => started.reject(new Error(`relay exited with ${s.code}:\n${log.join("\n")}`)));
  const timer = setTimeout(
    () => started.reject(new Error(`relay did not start in 20 s:\n${log.join("\n")}`)),
    20_000,
  );
  try {
    await started.promise;
  } catch (err) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await status;
    await reader.catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    process,
    log,
    configPath,
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      const s = await status;
      await reader.catch(() => {});
      let stats: StatsSnapshot | null = null;
      try {
        stats = JSON.parse(Deno.readTextFileSync(statsPath));
      } catch { /* not written */ }
      Deno.removeSync(dir, { recursive: true });
      return { code: s.code, stats };
    },
  };
}

/** What runGen sends (size 1024 and TTL 4 unless given). */
export type GenOptions = GenArgv;

export type { GenResult } from "../../src/tools/gen.ts";

/** Runs `mcr gen` in `ns` to completion and returns its JSON summary. */
export async function runGen(topo: Topology, ns: string, o: GenOptions): Promise<GenResult> {
  const args = genArgv({ ...o, size: o.size ?? 1024, ttl: o.ttl ?? 4 });
  const r = await topo.run(ns, selfCommand(args), 300_000);
  if (r.code !== 0) throw new Error(`mcr gen failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

export type { SinkResult } from "../../src/tools/sink.ts";

export interface RunningSink {
  result: Promise<SinkResult>;
  kill(): void;
}

/** Starts `mcr sink` in `ns`; the result resolves when it stops after its idle timeout. */
export function startSink(
  topo: Topology,
  ns: string,
  o: {
    group?: string;
    address?: string;
    port: number;
    iface?: string;
    expect?: number;
    runId?: number;
    idleMs?: number;
    maxSeconds?: number;
  },
): RunningSink {
  const args = [
    "sink",
    ...(o.group ? ["--group", o.group] : ["--address", o.address!]),
    "--port",
    String(o.port),
    "--json",
    "--idle-timeout-ms",
    String(o.idleMs ?? 2000),
    "--max-seconds",
    String(o.maxSeconds ?? 120),
  ];
  if (o.iface) args.push("--interface", o.iface);
  if (o.expect !== undefined) args.push("--expect", String(o.expect));
  if (o.runId !== undefined) args.push("--run-id", String(o.runId));
  const p = topo.spawn(ns, selfCommand(args));
  const out = new Response(p.stdout).text();
  const err = new Response(p.stderr).text();
  const result = (async () => {
    const [s, text, errText] = await Promise.all([p.status, out, err]);
    if (s.code !== 0) throw new Error(`mcr sink failed (${s.code}): ${errText}`);
    return JSON.parse(text.trim().split("\n").pop()!) as SinkResult;
  })();
  return {
    result,
    kill() {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
    },
  };
}

/** Waits for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** rx_packets must equal matched plus every drop reason: nothing unaccounted. */
export function assertConservation(stats: StatsSnapshot): void {
  const t = stats.totals;
  const drops = Object.entries(t).filter(([k]) => k.startsWith("drop_")).reduce(
    (a, [, v]) => a + v,
    0,
  );
  assert.equal(
    t.rx_packets,
    t.matched + drops,
    `rx_packets ${t.rx_packets} != matched ${t.matched} + drops ${drops}`,
  );
}

/** The YAML of one rule relaying 239.1.1.1:5001 on `input` to 239.9.9.1:6001 on `output`. */
/**
 * The stream of the base rule (oneRuleYaml: 239.1.1.1:5001 in, 239.9.9.1:6001
 * out) on a chain: a receiver behind the relay, then `count` datagrams at
 * `rate` into it. The sink's result resolves once it has gone idle.
 */
export async function baseStream(
  t: Topology,
  n: ChainNames,
  o: { count: number; rate: number; runId: number; idleMs: number; maxSeconds?: number },
): Promise<{ sink: RunningSink; gen: Promise<GenResult> }> {
  const sink = startSink(t, n.sink, {
    group: "239.9.9.1",
    port: 6001,
    iface: n.sinkIf,
    runId: o.runId,
    idleMs: o.idleMs,
    maxSeconds: o.maxSeconds,
  });
  await sleep(300);
  const gen = runGen(t, n.gen, {
    group: "239.1.1.1",
    port: 5001,
    count: o.count,
    rate: o.rate,
    iface: n.genIf,
    runId: o.runId,
  });
  return { sink, gen };
}

export function oneRuleYaml(input: string, output: string): string {
  return `rules:\n  - name: a\n    input: { interface: ${input}, group: 239.1.1.1, port: 5001 }\n` +
    `    outputs:\n      - { interface: ${output}, group: 239.9.9.1, port: 6001 }\n`;
}

/**
 * Starts tcpdump (argv) in `ns` and resolves once it is capturing (it said
 * "listening on"), so nothing sent afterwards is missed. Stop it with
 * kill("SIGTERM") and await its status.
 */
export async function startCapture(
  topo: Topology,
  ns: string,
  argv: string[],
): Promise<Deno.ChildProcess> {
  // --immediate-mode: a packet is written as it arrives, not when its ring block retires
  // (else what arrived in the last second before SIGTERM may never reach the file).
  // -B: an 8 MiB capture buffer, so a busy machine does not make the capture drop.
  const p = topo.spawn(ns, [argv[0], "--immediate-mode", "-B", "8192", ...argv.slice(1)], {
    stdout: "null",
    stderr: "piped",
  });
  const reader = p.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 10_000;
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) throw new Error(`tcpdump did not start: ${seen}`);
    seen += value;
  }
  // Keep draining its stderr so it never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return p;
}

/**
 * Runs a Deno script as the unprivileged user nobody (no capabilities, net
 * access only) in `ns`: a hostile local user. The script is written to a
 * temporary directory it can read, removed when it has run.
 */
export async function runAsNobody(
  topo: Topology,
  ns: string,
  script: string,
  timeoutMs = 120_000,
): ReturnType<Topology["run"]> {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.chmodSync(dir, 0o755);
    Deno.writeTextFileSync(`${dir}/script.ts`, script);
    Deno.chmodSync(`${dir}/script.ts`, 0o644);
    return await topo.run(ns, [
      "setpriv",
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "--inh-caps=-all",
      "env",
      "HOME=/tmp",
      "DENO_DIR=/tmp/mcr-flood-deno",
      Deno.execPath(),
      "run",
      "--allow-net",
      `${dir}/script.ts`,
    ], timeoutMs);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
