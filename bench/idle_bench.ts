/**
 * Idle cost: a relay with one rule, its API on, and no traffic, measured
 * from outside over IDLE_SECONDS (default 60): CPU of the whole process in %
 * of one core, and per thread its CPU and wake-ups (voluntary context
 * switches) per second, so a timer that wakes the relay shows by name.
 * Kernel forwarding (smcroute) costs nothing idle: the figure to beat is 0.
 * The C reference relay (c/ref/ref_relay.c: poll with a 100 ms timeout) is
 * measured the same way in the same run, as the floor a native loop sets.
 *
 *   deno run --allow-all bench/idle_bench.ts
 *
 * Prints one JSON line and writes bench/results/idle.json. Asserts nothing.
 */
import { startRelayListening } from "./start_relay.ts";
import { withTopology } from "../src/tools/topology.ts";

const seconds = Number(Deno.env.get("IDLE_SECONDS") ?? 60);
const out = new URL("./results/idle.json", import.meta.url).pathname;
const CLK_TCK = 100;

interface ThreadSample {
  name: string;
  ticks: number;
  wakes: number;
}

function threads(pid: number): Map<string, ThreadSample> {
  const m = new Map<string, ThreadSample>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const status = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/status`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      m.set(t.name, {
        name,
        ticks: Number(f[11]) + Number(f[12]),
        wakes: Number(status.match(/^voluntary_ctxt_switches:\s+(\d+)/m)?.[1] ?? 0),
      });
    } catch { /* the thread exited */ }
  }
  return m;
}

/** CPU (% of a core) and wake-ups per thread of `pid` over `seconds`. */
async function measure(pid: number) {
  const before = threads(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = threads(pid);
  const wall = (performance.now() - t0) / 1000;
  const perThread = [...after].filter(([tid]) => before.has(tid)).map(([tid, a]) => {
    const b = before.get(tid)!;
    return {
      thread: a.name,
      cpu_pct: +(((a.ticks - b.ticks) / CLK_TCK) / wall * 100).toFixed(3),
      wakes_per_s: +((a.wakes - b.wakes) / wall).toFixed(1),
    };
  });
  return { wall, perThread, total: perThread.reduce((s, x) => s + x.cpu_pct, 0) };
}

await withTopology(async (t) => {
  const n = await t.chain();
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(
    `${dir}/mcr.yaml`,
    `rules:\n  - { name: idle, input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }, ` +
      `outputs: [{ interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }] }\n`,
    { mode: 0o600 },
  );
  const relay = await startRelayListening(t, n.relay, `${dir}/mcr.yaml`);
  await new Promise((r) => setTimeout(r, 3000)); // start-up work done
  const m = await measure(relay.pid);
  relay.kill("SIGTERM");
  await relay.status;
  Deno.removeSync(dir, { recursive: true });
  let ref: { idle_cpu_pct_of_core: number; wakes_per_s: number } | null = null;
  const refPath = new URL("../build/ref_relay", import.meta.url).pathname;
  try {
    Deno.statSync(refPath);
    const p = t.spawn(n.relay, [
      refPath,
      "--in",
      n.relayIn,
      "--group",
      "239.1.1.1",
      "--port",
      "5001",
      "--out",
      n.relayOut,
      "--out-group",
      "239.9.9.9",
      "--out-port",
      "5099",
    ], { stdout: "null", stderr: "null" });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await measure(p.pid);
    p.kill("SIGTERM");
    await p.status;
    ref = {
      idle_cpu_pct_of_core: +r.total.toFixed(3),
      wakes_per_s: +r.perThread.reduce((s, x) => s + x.wakes_per_s, 0).toFixed(1),
    };
  } catch (err) {
    console.error(`idle bench: no C reference row: ${(err as Error).message}`);
  }
  const row = {
    seconds: +m.wall.toFixed(1),
    idle_cpu_pct_of_core: +m.total.toFixed(3),
    target_pct: 0.5,
    threads: m.perThread.filter((x) => x.cpu_pct > 0 || x.wakes_per_s > 0),
    c_reference: ref,
  };
  Deno.writeTextFileSync(out, JSON.stringify(row, null, 2) + "\n");
  console.log(JSON.stringify(row));
});
