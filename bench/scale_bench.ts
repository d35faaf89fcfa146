/**
 * Scale: a relay holding many rules (default 10,000, one group each, on one
 * input interface), measured from outside:
 *  - start-up time (process start to "API listening"),
 *  - idle CPU of the whole process (main thread + workers) over 10 s, in % of one core,
 *  - one rule added and removed over the API (wall time of each request),
 *  - GET /metrics and GET /api/v1/stats (wall time, bytes),
 *  - resident memory.
 *
 *   deno run --allow-all bench/scale_bench.ts          (SCALE_RULES=10000)
 *
 * Prints one JSON line with the figures and writes bench/results/scale.json.
 * A benchmark, not a test: nothing here asserts a duration.
 */
import { withTopology } from "../src/tools/topology.ts";
import { startRelayListening } from "./start_relay.ts";

const count = Number(Deno.env.get("SCALE_RULES") ?? 10_000);
const API = "http://127.0.0.1:8787";
const out = new URL("./results/scale.json", import.meta.url).pathname;
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
function rssMiB(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

await withTopology(async (t) => {
  const n = await t.chain();
  const dir = Deno.makeTempDirSync();
  const rule = (i: number) =>
    `  - { name: r${i}, input: { interface: ${n.relayIn}, group: 239.${10 + (i >> 16)}.${
      (i >> 8) & 255
    }.${i & 255}, port: 5000 }, ` +
    `outputs: [{ interface: ${n.relayOut}, group: 239.200.${(i >> 8) & 255}.${
      i & 255
    }, port: 6000 }] }\n`;
  // SCALE_LOG=debug: the relay's timing lines (plan, join, deliver, persist) are printed.
  const debug = Deno.env.get("SCALE_LOG") === "debug";
  Deno.writeTextFileSync(
    `${dir}/mcr.yaml`,
    (debug ? "log: { level: debug }\n" : "") + "rules:\n" +
      Array.from({ length: count }, (_, i) => rule(i)).join(""),
    { mode: 0o600 },
  );
  const started = performance.now();
  const relay = await startRelayListening(t, n.relay, `${dir}/mcr.yaml`, (chunk) => {
    if (debug) {
      for (const line of chunk.split("\n")) if (line.includes("timing")) console.error(line);
    }
  });
  const startupS = (performance.now() - started) / 1000;
  // `ip netns exec` execs mcr: the child's pid is the relay's.
  const pid = relay.pid;
  const curl = async (args: string[]) => {
    const t0 = performance.now();
    const r = await t.run(n.relay, [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download}",
      ...args,
    ], 60_000);
    return {
      ms: Math.round(performance.now() - t0),
      status: r.stdout.split(" ")[0],
      bytes: Number(r.stdout.split(" ")[1]),
    };
  };
  await new Promise((r) => setTimeout(r, 2000));
  const c0 = cpuTicks(pid);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const idlePct = +(((cpuTicks(pid) - c0) / CLK_TCK) / ((performance.now() - w0) / 1000) * 100)
    .toFixed(2);
  const body = JSON.stringify({
    name: "added",
    input: { interface: n.relayIn, group: "239.99.99.99", port: 5000 },
    outputs: [{ interface: n.relayOut, group: "239.98.98.98", port: 6000 }],
  });
  const add = await curl([
    "-X",
    "POST",
    "-H",
    "content-type: application/json",
    "-d",
    body,
    `${API}/api/v1/rules`,
  ]);
  const remove = await curl(["-X", "DELETE", `${API}/api/v1/rules/added`]);
  const metrics = await curl([`${API}/metrics`]);
  const stats = await curl([`${API}/api/v1/stats`]);
  const result = {
    rules: count,
    startup_s: +startupS.toFixed(2),
    idle_cpu_pct_of_core: idlePct,
    rule_add_ms: add.ms,
    rule_add_status: add.status,
    rule_remove_ms: remove.ms,
    metrics_ms: metrics.ms,
    metrics_bytes: metrics.bytes,
    stats_ms: stats.ms,
    rss_mib: rssMiB(pid),
    note: "wall times include curl and `ip netns exec` start (~5-15 ms)",
  };
  relay.kill("SIGTERM");
  await relay.status;
  Deno.removeSync(dir, { recursive: true });
  console.log(JSON.stringify(result));
  Deno.writeTextFileSync(out, JSON.stringify(result, null, 2) + "\n");
});
