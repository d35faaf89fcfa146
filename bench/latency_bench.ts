/**
 * One-way latency through each relay, measured at the receiver: the
 * generator writes its send time into every datagram, the receiver reads
 * the kernel's receive time (SO_TIMESTAMPNS). Chain topology, 256-byte
 * datagrams, the relays side by side in one run (mcr, kernel forwarding via
 * smcroute, socat), at several rates. "mcr" is the default RX frames ring
 * (TPACKET_V2), "mcr-busy" the same with busy polling (ring.busy_poll_us: 500),
 * "mcr-blocks" the TPACKET_V3 block ring (ring.rx_mode: blocks). The relay's
 * CPU (busy time of CPU 1, per delivered packet) is printed too: busy polling
 * buys latency with a core.
 *
 *   deno run --allow-all bench/latency_bench.ts      (LAT_RATES=1000,10000,50000 LAT_SECONDS=4)
 *
 * Prints a table and writes bench/results/latency.jsonl. A benchmark: it
 * reports what it measured, it asserts nothing.
 */
import { runOne } from "./run.ts";

const rates = (Deno.env.get("LAT_RATES") ?? "1000,10000,50000").split(",").map(Number);
const seconds = Number(Deno.env.get("LAT_SECONDS") ?? 4);
const size = Number(Deno.env.get("LAT_SIZE") ?? 256);
const relays = (Deno.env.get("LAT_RELAYS") ?? "mcr,mcr-busy,mcr-blocks,kernel,socat").split(",") as ("mcr" | "mcr-busy" | "mcr-blocks" | "kernel" | "socat")[];
const out = new URL("./results/latency.jsonl", import.meta.url).pathname;

const rows = [];
for (const rate of rates) {
  for (const relay of relays) {
    const row = await runOne(`latency-${rate}`, relay, 0, { count: Math.max(2000, rate * seconds), rate, size });
    rows.push(row);
    console.error(JSON.stringify({ relay, rate, p50: row.latency_p50_us, p99: row.latency_p99_us, lost: row.lost }));
  }
}
Deno.writeTextFileSync(out, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
console.log(`| relay | offered pps | delivered | p50 µs | p99 µs | max µs | p50 over kernel | relay CPU ns/pkt |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) {
  const k = rows.find((x) => x.relay === "kernel" && x.target_pps === r.target_pps);
  const over = k && r.latency_p50_us !== null && k.latency_p50_us !== null ? `+${(r.latency_p50_us - k.latency_p50_us).toFixed(0)}` : "";
  console.log(`| ${r.relay} | ${r.target_pps} | ${r.delivered} / ${r.sent} | ${r.latency_p50_us} | ${r.latency_p99_us} | ${r.latency_max_us} | ${over} | ${r.cpu_ns_per_pkt} |`);
}
