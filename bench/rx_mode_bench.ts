/**
 * RX frames mode (TPACKET_V2, the default) against blocks mode (TPACKET_V3),
 * side by side in one run, interleaved: the seed's workloads (chain 50k pps,
 * bridge 150k pps offered), 1,024-byte datagrams. Prints loss, latency and
 * relay CPU per delivered packet (busy time of CPU 1, where the relay runs),
 * and the frames/blocks ratio.
 *
 *   deno run --allow-all bench/rx_mode_bench.ts        (REPS=2; root)
 *
 * A benchmark: it reports what it measured, it asserts nothing. Writes
 * bench/results/rx_mode.jsonl.
 */
import { type Row, runOne } from "./run.ts";

const reps = Number(Deno.env.get("REPS") ?? 2);
const rows: Row[] = [];
for (let rep = 0; rep < reps; rep++) {
  for (const relay of ["mcr", "mcr-blocks"] as const) {
    rows.push(await runOne("seed-chain", relay, rep, { count: 100_000, rate: 50_000, size: 1024 }));
    rows.push(
      await runOne("seed-bridge", relay, rep, {
        count: 600_000,
        rate: 150_000,
        size: 1024,
        bridge: true,
      }),
    );
  }
}
Deno.writeTextFileSync(
  new URL("./results/rx_mode.jsonl", import.meta.url).pathname,
  rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(
  "| workload | rx mode | delivered | loss % | p50 µs | p99 µs | CPU ns/pkt (median) | frames / blocks |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const w of ["seed-chain", "seed-bridge"]) {
  const cpu = (relay: string) =>
    median(
      rows.filter((r) => r.workload === w && r.relay === relay).map((r) => r.cpu_ns_per_pkt ?? 0),
    );
  for (const relay of ["mcr", "mcr-blocks"]) {
    const rs = rows.filter((r) => r.workload === w && r.relay === relay);
    const delivered = rs.map((r) => `${r.delivered}/${r.sent}`).join(", ");
    const loss = Math.max(...rs.map((r) => r.loss_pct));
    const p50 = median(rs.map((r) => r.latency_p50_us ?? 0));
    const p99 = median(rs.map((r) => r.latency_p99_us ?? 0));
    const ratio = relay === "mcr" ? (cpu("mcr") / cpu("mcr-blocks")).toFixed(2) + "x" : "";
    console.log(
      `| ${w} | ${
        relay === "mcr" ? "frames" : "blocks"
      } | ${delivered} | ${loss} | ${p50} | ${p99} | ${cpu(relay)} | ${ratio} |`,
    );
  }
}
