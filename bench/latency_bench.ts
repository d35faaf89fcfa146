/**
 * One-way latency through each relay, measured at the receiver: the
 * generator writes its send time into every datagram, the receiver reads
 * the kernel's receive time (SO_TIMESTAMPNS). Chain topology, the relays
 * side by side in one run (mcr, the C reference relay on the same rings,
 * kernel forwarding via smcroute where the kernel has CONFIG_IP_MROUTE,
 * socat), for
 * every rate and datagram size, each without and with a second stream on
 * the same input (BACKGROUND_PPS of 1024-byte datagrams, relayed by a second
 * rule / route / socat, not scored): the measured stream's latency when the
 * relay is busy with another one.
 *
 * "mcr" is the default RX frames ring (TPACKET_V2). Optional relays:
 * "mcr-busy" (ring.busy_poll_us: 500) and "mcr-blocks" (ring.rx_mode:
 * blocks). The relay's CPU (busy time of CPU 1 per delivered packet of the
 * measured stream) is printed for rows without the second stream. "residence"
 * is mcr's own histogram (kernel receive time to TX kick), as exported in
 * /metrics, read from its final counters: bucket upper bounds.
 *
 *   deno run --allow-all bench/latency_bench.ts
 *   LAT_RATES=1000,10000,50000,100000 LAT_SIZES=256,1024 LAT_SECONDS=4
 *   LAT_RELAYS=mcr,kernel,socat,mcr-busy,mcr-blocks LAT_BACKGROUND=0,30000
 *   LAT_OUT=latency_modes    (file base name in bench/results/)
 *   LAT_RENDER=1             (draw table and chart again from the .jsonl, no run)
 *
 * Prints a table, writes bench/results/latency.{jsonl,md} and the chart
 * bench/results/latency.svg (p50 and p99 against rate, 256 B, no second
 * stream). A benchmark: it reports what it measured, it asserts nothing.
 */
import { renderLatencyChart } from "./chart.ts";
import { chooseRelays, runOne } from "./run.ts";
import { residenceQuantileUs } from "../src/stats/aggregate.ts";

type Relay = "mcr" | "mcr-busy" | "mcr-blocks" | "cref" | "kernel" | "socat";
const list = (k: string, d: string) =>
  (Deno.env.get(k) ?? d).split(",").map((x) => x.trim()).filter((x) => x !== "");
const rates = list("LAT_RATES", "1000,10000,50000,100000").map(Number);
const sizes = list("LAT_SIZES", "256,1024").map(Number);
const backgrounds = list("LAT_BACKGROUND", "0,30000").map(Number);
const seconds = Number(Deno.env.get("LAT_SECONDS") ?? 4);
const relays = chooseRelays<Relay>(Deno.env.get("LAT_RELAYS"), ["mcr", "cref", "kernel", "socat"]);
const results = new URL("./results/", import.meta.url).pathname;
/** Base name of the output files (LAT_OUT=latency_modes keeps a second run beside the main one). */
const base = Deno.env.get("LAT_OUT") ?? "latency";

type Row = Awaited<ReturnType<typeof runOne>>;
const rows: (Row & { background: number })[] = [];
// LAT_RENDER=1: no measurement, the table and chart are drawn again from the last run's rows.
const renderOnly = Deno.env.get("LAT_RENDER") === "1";
if (renderOnly) {
  rows.push(
    ...Deno.readTextFileSync(`${results}${base}.jsonl`).trim().split("\n").map((l) =>
      JSON.parse(l)
    ),
  );
}
for (const size of renderOnly ? [] : sizes) {
  for (const background of backgrounds) {
    for (const rate of rates) {
      // The C reference relays one stream: it has no rows with a second stream.
      for (const relay of relays.filter((r) => r !== "cref" || background === 0)) {
        const row = await runOne(`latency-${size}B-${rate}${background ? "-bg" : ""}`, relay, 0, {
          count: Math.max(2000, rate * seconds),
          rate,
          size,
          backgroundPps: background,
        });
        rows.push({ ...row, background });
        console.error(
          JSON.stringify({
            relay,
            size,
            rate,
            background,
            p50: row.latency_p50_us,
            p99: row.latency_p99_us,
            lost: row.lost,
          }),
        );
      }
    }
  }
}
if (!renderOnly) {
  Deno.writeTextFileSync(
    `${results}${base}.jsonl`,
    rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
  );
}

const us = (v: number | null | undefined) =>
  v === null || v === undefined
    ? "-"
    : !Number.isFinite(v)
    ? "∞"
    : v >= 1000
    ? `${(v / 1000).toFixed(1)} ms`
    : `${Math.round(v)}`;
const over = (v: number | null, k: number | null) =>
  v === null || k === null ? "" : v >= k ? `+${us(v - k)}` : `−${us(k - v)}`;
const lines = [
  "| relay | size | second stream | offered pps | delivered | p50 µs | p99 µs | max µs | p50 / p99 over C reference | p50 / p99 over kernel | mcr residence p50 / p99 | longest loop turn | relay CPU ns/pkt |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
for (const r of rows) {
  const same = (relay: string) =>
    rows.find((x) =>
      x.relay === relay && x.target_pps === r.target_pps && x.size === r.size &&
      x.background === r.background
    );
  const k = same("kernel");
  const ref = same("cref");
  const overBoth = (b: Row | undefined) =>
    b
      ? `${over(r.latency_p50_us, b.latency_p50_us)} / ${over(r.latency_p99_us, b.latency_p99_us)}`
      : "";
  const c = r.relay_counters;
  const residence = c && r.relay.startsWith("mcr") && (c.residence_count ?? 0) > 0
    ? `≤ ${us(residenceQuantileUs(c, 0.5))} / ≤ ${us(residenceQuantileUs(c, 0.99))}`
    : "";
  lines.push(
    `| ${r.relay} | ${r.size} | ${
      r.background ? `${r.background_pps} pps` : "-"
    } | ${r.target_pps} | ${r.delivered} / ${r.sent} | ` +
      `${us(r.latency_p50_us)} | ${us(r.latency_p99_us)} | ${us(r.latency_max_us)} | ` +
      `${overBoth(ref)} | ${overBoth(k)} | ` +
      `${residence} | ${
        c?.loop_stall_max_ms !== undefined ? `${c.loop_stall_max_ms.toFixed(1)} ms` : ""
      } | ${r.background ? "-" : r.cpu_ns_per_pkt ?? "-"} |`,
  );
}
const cpus =
  Deno.readTextFileSync("/proc/cpuinfo").split("\n").filter((l) => l.startsWith("processor"))
    .length;
const machine = `${Deno.build.os} ${Deno.osRelease()}, ${cpus} CPUs`;
const measured =
  (renderOnly ? Deno.statSync(`${results}${base}.jsonl`).mtime ?? new Date() : new Date())
    .toISOString().slice(0, 10);
const table = `Measured ${measured} on ${machine}, ${seconds} s per row.\n\n${lines.join("\n")}\n`;
Deno.writeTextFileSync(`${results}${base}.md`, table);
console.log(table);

const chartSize = sizes.includes(256) ? 256 : sizes[0];
const series = relays.map((relay) => ({
  name: relay,
  points: rows.filter((r) => r.relay === relay && r.size === chartSize && r.background === 0)
    .map((r) => ({ rate: r.target_pps, p50Us: r.latency_p50_us, p99Us: r.latency_p99_us })),
}));
Deno.writeTextFileSync(
  `${results}${base}.svg`,
  renderLatencyChart(series, `${chartSize}-byte datagrams, chain topology, ${machine}`),
);
console.log(`raw rows: ${results}${base}.jsonl; chart: ${results}${base}.svg`);
