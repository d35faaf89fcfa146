/**
 * Worker recovery: how long a flow is without its worker when that worker
 * throws or stops making progress, idle and with the machine's CPUs busy
 * (one spinning process per CPU). The relay times each restart itself
 * (GET /api/v1/workers last_restart: the faulty worker's last loop turn,
 * the fault's detection, the replacement's plan in force); the receiver
 * counts what each flow lost. The namespace test of the same faults holds
 * the loss against the relay's own timing; the bounds live here.
 *
 *   deno run --allow-all bench/recovery_bench.ts      (REPS=3 by default)
 *
 * Prints a table and writes bench/results/recovery.md. Asserts nothing.
 */
import { startRelayListening } from "./start_relay.ts";
import { selfCommand } from "../src/runtime.ts";
import { genArgv } from "../src/cli/gen_argv.ts";
import { withTopology } from "../src/tools/topology.ts";

const REPS = Number(Deno.env.get("REPS") ?? 3);
const RATE = 2000;
const SECONDS = 8;
const TARGET_MS = 1000;
const API = "http://127.0.0.1:8787";

interface Sample {
  load: string;
  kind: string;
  detect_ms: number;
  replace_ms: number;
  outage_ms: number;
  lost: number;
}

async function once(load: "idle" | "busy", kind: "throw" | "hang"): Promise<Sample> {
  return await withTopology(async (t) => {
    const n = await t.chain();
    const dir = Deno.makeTempDirSync();
    const rules = [1, 2].map((i) =>
      `  - { name: r${i}, input: { interface: ${n.relayIn}, group: 239.1.1.${i}, port: 500${i} }, ` +
      `outputs: [{ interface: ${n.relayOut}, group: 239.9.9.${i}, port: 600${i} }] }`
    );
    Deno.writeTextFileSync(`${dir}/mcr.yaml`, `workers: 2\nrules:\n${rules.join("\n")}\n`);
    const relay = await startRelayListening(t, n.relay, `${dir}/mcr.yaml`, () => {}, {
      MCR_FAULT_INJECTION: "1",
    });
    const hogs = load === "busy"
      ? [0, 1].map(() => new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn())
      : [];
    try {
      const sinks = [1, 2].map((i) =>
        t.run(
          n.sink,
          selfCommand([
            "sink",
            "--group",
            `239.9.9.${i}`,
            "--port",
            `600${i}`,
            "--interface",
            n.sinkIf,
            "--expect",
            String(RATE * SECONDS),
            "--idle-timeout-ms",
            "3000",
            "--json",
            "--run-id",
            String(70 + i),
            "--max-seconds",
            String(SECONDS + 20),
          ]),
          120_000,
        )
      );
      await new Promise((r) => setTimeout(r, 500));
      const gens = [1, 2].map((i) =>
        t.run(
          n.gen,
          selfCommand(genArgv({
            group: `239.1.1.${i}`,
            port: 5000 + i,
            count: RATE * SECONDS,
            rate: RATE,
            iface: n.genIf,
            ttl: 8,
            runId: 70 + i,
          })),
          120_000,
        )
      );
      await new Promise((r) => setTimeout(r, 2000));
      await t.run(n.relay, [
        "curl",
        "-sf",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify({ worker: 0, kind }),
        `${API}/api/v1/debug/fault`,
      ]);
      let record: Record<string, number> | null = null;
      for (let i = 0; i < 300 && record === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const w = JSON.parse(
          (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/workers`])).stdout,
        );
        const r = w.find((x: { id: number }) => x.id === 0)?.last_restart;
        if (r && r.forwarding_at_ms !== null) record = r;
      }
      await Promise.all(gens);
      const got = (await Promise.all(sinks)).map((s) =>
        JSON.parse(s.stdout.trim().split("\n").pop()!)
      );
      if (record === null) throw new Error("no restart recorded in 30 s");
      return {
        load,
        kind,
        detect_ms: record.detected_at_ms - record.last_heartbeat_at_ms,
        replace_ms: record.forwarding_at_ms - record.detected_at_ms,
        outage_ms: record.forwarding_at_ms - record.last_heartbeat_at_ms,
        lost: got.reduce((a, g) => a + RATE * SECONDS - (g.unique ?? 0), 0),
      };
    } finally {
      for (const h of hogs) h.kill("SIGKILL");
      relay.kill("SIGTERM");
      await relay.status;
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

const samples: Sample[] = [];
for (let rep = 0; rep < REPS; rep++) {
  for (const load of ["idle", "busy"] as const) {
    for (const kind of ["throw", "hang"] as const) {
      const s = await once(load, kind);
      samples.push(s);
      console.error(JSON.stringify(s));
    }
  }
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [
  "| fault | machine | detected after (ms, median / max) | replaced after (ms) | outage (ms, median / max) | target | lost packets (both flows, max) |",
  "|---|---|---:|---:|---:|---:|---:|",
];
for (const kind of ["throw", "hang"]) {
  for (const load of ["idle", "busy"]) {
    const s = samples.filter((x) => x.kind === kind && x.load === load);
    const outage = s.map((x) => x.outage_ms);
    const max = Math.max(...outage);
    lines.push(
      `| ${kind} | ${load === "busy" ? "both CPUs busy" : "idle"} | ${
        median(s.map((x) => x.detect_ms)).toFixed(0)
      } / ${Math.max(...s.map((x) => x.detect_ms)).toFixed(0)} | ${
        median(s.map((x) => x.replace_ms)).toFixed(0)
      } | ${median(outage).toFixed(0)} / ${max.toFixed(0)} | ` +
        `${TARGET_MS} ms: ${max <= TARGET_MS ? "met" : "not met"} | ${
          Math.max(...s.map((x) => x.lost))
        } |`,
    );
  }
}
const table =
  `Measured ${new Date().toISOString().slice(0, 10)}, ${REPS} repetition(s), 2 workers, ` +
  `2 flows of ${RATE} pps.\n\n${lines.join("\n")}\n`;
Deno.writeTextFileSync(new URL("./results/recovery.md", import.meta.url).pathname, table);
console.log(table);
