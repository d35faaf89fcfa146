/**
 * Soak: one relay forwarding a steady stream for a long time, scored at the
 * receiver, with the relay's memory sampled.
 *
 *   SOAK_SECONDS=600 SOAK_RATE=50000 deno run --allow-all bench/soak.ts
 *
 * Prints one JSON line per RSS sample and a summary line: packets sent,
 * relayed (relay counters), delivered (receiver), kernel drops, and RSS at
 * start/end/max. Writes bench/results/soak.jsonl.
 */
import { selfCommand } from "../src/runtime.ts";
import { genArgv } from "../src/cli/gen_argv.ts";
import { withTopology } from "../src/tools/topology.ts";

const seconds = Number(Deno.env.get("SOAK_SECONDS") ?? 600);
const rate = Number(Deno.env.get("SOAK_RATE") ?? 50_000);
const size = Number(Deno.env.get("SOAK_SIZE") ?? 1024);
const out = new URL("./results/soak.jsonl", import.meta.url).pathname;
const lines: string[] = [];
const log = (o: Record<string, unknown>) => {
  const l = JSON.stringify(o);
  lines.push(l);
  console.log(l);
};

function rssKiB(pid: number): number {
  let total = 0;
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
    total = m ? Number(m[1]) : 0;
  } catch { /* exited */ }
  return total;
}

await withTopology(async (t) => {
  const n = await t.chain();
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(
    `${dir}/mcr.yaml`,
    `rules:\n  - name: soak\n    rate_pps: ${rate}\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
      `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
    { mode: 0o600 },
  );
  const relay = t.spawn(
    n.relay,
    selfCommand([
      "run",
      "--config",
      `${dir}/mcr.yaml`,
      "--no-api",
      "--final-stats",
      `${dir}/final.json`,
    ]),
    { stdout: "null", stderr: "null" },
  );
  await new Promise((r) => setTimeout(r, 3000));
  const count = seconds * rate;
  const sink = t.spawn(
    n.sink,
    selfCommand([
      "sink",
      "--group",
      "239.9.9.9",
      "--port",
      "5099",
      "--interface",
      n.sinkIf,
      "--expect",
      String(count),
      "--idle-timeout-ms",
      "3000",
      "--max-seconds",
      String(seconds + 120),
      "--json",
      "--run-id",
      "9",
    ]),
    { stderr: "null" },
  );
  const sinkOut = new Response(sink.stdout).text();
  await new Promise((r) => setTimeout(r, 500));
  const gen = t.spawn(
    n.gen,
    selfCommand(genArgv({
      group: "239.1.1.1",
      port: 5001,
      count,
      rate,
      size,
      iface: n.genIf,
      runId: 9,
    })),
    { stderr: "null" },
  );
  const genOut = new Response(gen.stdout).text();
  const start = Date.now();
  const rss: number[] = [];
  let done = false;
  gen.status.then(() => done = true);
  while (!done) {
    rss.push(rssKiB(relay.pid));
    log({ t_s: Math.round((Date.now() - start) / 1000), relay_rss_kib: rss[rss.length - 1] });
    await new Promise((r) => setTimeout(r, 10_000));
  }
  await sink.status;
  relay.kill("SIGTERM");
  await relay.status;
  const g = JSON.parse((await genOut).trim().split("\n").pop()!);
  const s = JSON.parse((await sinkOut).trim().split("\n").pop()!);
  const final = JSON.parse(Deno.readTextFileSync(`${dir}/final.json`)).totals;
  log({
    summary: true,
    seconds,
    rate,
    size,
    sent: g.sent,
    gen_pps: g.rate_pps,
    relay_rx: final.rx_packets,
    relay_tx: final.tx_sent,
    relay_kernel_drops: final.kernel_drops,
    relay_tx_ring_full: final.tx_ring_full,
    relay_tx_errors: final.tx_errors,
    delivered: s.unique,
    lost: g.sent - s.unique,
    duplicates: s.duplicates,
    receiver_kernel_drops: s.kernel_drops,
    rss_start_kib: rss[0],
    rss_end_kib: rss[rss.length - 1],
    rss_max_kib: Math.max(...rss),
    rss_after_first_minute_kib: rss[Math.min(6, rss.length - 1)],
  });
  Deno.removeSync(dir, { recursive: true });
});
Deno.writeTextFileSync(out, lines.join("\n") + "\n");
